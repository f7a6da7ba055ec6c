package cli

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// SourceConfig is one source in the config file's sources: list: a
// provider's webhooks at a path of their own. Its secrets are the file's
// secrets: plus those in its environment variable, so that the file need
// not hold them.
type SourceConfig struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"`
	// Path defaults to /webhooks/<name>.
	Path    string   `yaml:"path"`
	Secrets []string `yaml:"secrets"`
	// SecretEnv names the environment variable of comma-separated secrets.
	// Defaults to HOOKLATCH_SOURCE_<NAME>_SECRET (upper case, - as _).
	SecretEnv   string     `yaml:"secret_env"`
	Tolerance   Duration   `yaml:"tolerance"`
	VerifyToken string     `yaml:"verify_token"` // meta
	PublicURL   string     `yaml:"public_url"`   // twilio
	HMAC        hmacConfig `yaml:"hmac"`

	// flag is the --source value the source came from, for messages; ""
	// for the file's.
	flag string
}

// hmacConfig is a source's hmac: block, the generic provider's settings.
type hmacConfig struct {
	Header          string `yaml:"header"`
	Algorithm       string `yaml:"algorithm"`
	Encoding        string `yaml:"encoding"`
	Prefix          string `yaml:"prefix"`
	Template        string `yaml:"template"`
	TimestampHeader string `yaml:"timestamp_header"`
	IDHeader        string `yaml:"id_header"`
	TypeHeader      string `yaml:"type_header"`
}

// sentProvider is Sent's own provider name: its source is the receiver's
// default, verified by package signature.
const sentProvider = "sent"

// secretEnv is the environment variable a source's secrets are read from.
func (s *SourceConfig) secretEnv() string {
	if s.SecretEnv != "" {
		return s.SecretEnv
	}
	return s.env("SECRET")
}

// env is the source's environment variable of a setting:
// HOOKLATCH_SOURCE_<NAME>_<SETTING>, the name upper case, - and . as _.
func (s *SourceConfig) env(setting string) string {
	return "HOOKLATCH_SOURCE_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(s.Name)) + "_" + setting
}

// verifyToken is Meta's verify token: $HOOKLATCH_SOURCE_<NAME>_VERIFY_TOKEN,
// else the file's verify_token.
func (s *SourceConfig) verifyToken(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(s.env("VERIFY_TOKEN"))); v != "" {
		return v
	}
	return s.VerifyToken
}

// where names the source in messages: its --source value, or its place in
// the file.
func (s *SourceConfig) where(i int) string {
	if s.flag != "" {
		return s.flag
	}
	return fmt.Sprintf("sources[%d] (%s)", i, s.Name)
}

// key names a setting as the source was given it: a --source key or the
// file's.
func (s *SourceConfig) key(fileKey, flagKey string) string {
	if s.flag != "" {
		return flagKey
	}
	return fileKey
}

// checkSettings refuses a setting the provider does not read, so that a
// typo or a copied block never passes for configuration, and names the
// setting a provider needs when it is missing.
func (s *SourceConfig) checkSettings(i int, getenv func(string) string) error {
	if s.PublicURL != "" && s.Provider != "twilio" {
		return usageError("%s: %s is Twilio's setting, not %s's", s.where(i), s.key("public_url:", "public_url="), s.Provider)
	}
	if s.VerifyToken != "" && s.Provider != "meta" {
		return usageError("%s: verify_token: is Meta's setting, not %s's", s.where(i), s.Provider)
	}
	if s.HMAC != (hmacConfig{}) && s.Provider != "hmac" {
		return usageError("%s: %s the generic hmac provider's settings, not %s's", s.where(i),
			s.key("hmac: holds", "header=, algorithm=, encoding=, prefix=, template=, timestamp_header=, id_header= and type_header= are"), s.Provider)
	}
	switch s.Provider {
	case "meta":
		if s.verifyToken(getenv) == "" {
			return usageError("%s: no verify token: set %s to the token typed into Meta's webhook settings (or verify_token: in the config file); Meta checks the endpoint with it before it sends events",
				s.where(i), s.env("VERIFY_TOKEN"))
		}
	case "hmac":
		if s.HMAC.Header == "" {
			return usageError("%s: the hmac provider needs the header that carries the signature: %s", s.where(i),
				s.key("add hmac: {header: X-Signature}", "add ,header=X-Signature"))
		}
	}
	return nil
}

// secrets are the file's secrets, then the environment's.
func (s *SourceConfig) secrets(getenv func(string) string) []string {
	out := append([]string(nil), s.Secrets...)
	for _, v := range strings.Split(getenv(s.secretEnv()), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// fileSources builds the file's sources. Sent's entry, if any, is returned
// apart: it configures the receiver's own endpoint.
func (cf *ConfigFile) fileSources(getenv func(string) string) (eps []receiver.Endpoint, sent *SourceConfig, err error) {
	named, paths := map[string]int{}, map[string]int{}
	for i := range cf.Sources {
		s := &cf.Sources[i]
		where := s.where(i)
		if s.Name == "" {
			return nil, nil, usageError("%s: every source needs a name", where)
		}
		if j, taken := named[s.Name]; taken {
			return nil, nil, usageError("%s: %s has that name already: give each its own", where, cf.Sources[j].where(j))
		}
		named[s.Name] = i
		if s.Path == "" {
			s.Path = "/webhooks/" + s.Name
		}
		if !strings.HasPrefix(s.Path, "/") {
			return nil, nil, usageError("%s: path %q must start with /", where, s.Path)
		}
		if j, taken := paths[s.Path]; taken {
			return nil, nil, usageError("%s: %s is at %s already: give each its own path", where, cf.Sources[j].where(j), s.Path)
		}
		paths[s.Path] = i
		if s.Provider == sentProvider || slices.Contains(source.Providers(), s.Provider) {
			if err := s.checkSettings(i, getenv); err != nil {
				return nil, nil, err
			}
		}
		if s.Provider == sentProvider {
			if sent != nil {
				return nil, nil, usageError("%s: one sent source only: give it every secret", where)
			}
			sent = s
			continue
		}
		secrets := s.secrets(getenv)
		if len(secrets) == 0 {
			return nil, nil, usageError("%s: no secret: list it under secrets: or set %s", where, s.secretEnv())
		}
		src, err := source.New(source.Settings{
			Name: s.Name, Provider: s.Provider, Secrets: secrets, Tolerance: time.Duration(s.Tolerance),
			VerifyToken: s.verifyToken(getenv), PublicURL: s.PublicURL, HMAC: source.HMACSettings(s.HMAC),
		})
		if err != nil {
			return nil, nil, usageError("%s: %v", where, err)
		}
		eps = append(eps, receiver.Endpoint{Name: s.Name, Path: s.Path, Source: src})
	}
	return eps, sent, nil
}

// sentSecrets are the secrets of the file's sent source.
func sentSecrets(s *SourceConfig, getenv func(string) string) ([]signature.Secret, error) {
	raw := strings.Join(s.secrets(getenv), ",")
	if raw == "" {
		return nil, nil
	}
	secrets, err := signature.ParseSecrets(raw)
	if err != nil {
		return nil, secretError("sources ("+s.Name+") secret", err)
	}
	return secrets, nil
}

// serveSecrets are Sent's secrets: --secret or its environment, else the
// file's sent source's. With other sources and none of these, serve
// receives theirs only.
func serveSecrets(f *pflag.FlagSet, values map[string]string, getenv func(string) string, sent *SourceConfig, others bool) ([]signature.Secret, error) {
	if raw := settingFrom(f, "secret", values, getenv, "SENT_WEBHOOK_SECRET", "SENT_DM_WEBHOOK_SECRET"); strings.TrimSpace(raw) != "" || sent == nil && !others {
		return secretsFromFile(f, values, getenv)
	}
	if sent == nil {
		return nil, nil
	}
	secrets, err := sentSecrets(sent, getenv)
	if err == nil && len(secrets) == 0 {
		err = usageError("sources (%s): no secret: list it under secrets:, set %s or SENT_WEBHOOK_SECRET", sent.Name, sent.secretEnv())
	}
	return secrets, err
}

// sourceFlags puts the sources of --source in the file's place: like every
// flag, it beats the file. Each value is NAME=PROVIDER, then any of
// sourceFlagKeys as ,key=value; secrets and Meta's verify token are read
// from the environment only (sourceEnv), never from the command line.
func sourceFlags(cmd *cobra.Command, file *ConfigFile) error {
	f := cmd.Flags().Lookup("source")
	if f == nil || !f.Changed {
		return nil
	}
	values, _ := cmd.Flags().GetStringArray("source")
	file.Sources = nil
	for _, v := range values {
		s, err := parseSourceFlag(fmt.Sprintf("--source %q", v), v)
		if err != nil {
			return err
		}
		file.Sources = append(file.Sources, s)
	}
	return nil
}

// sourceFlagKeys are the settings --source takes after NAME=PROVIDER, in
// the config file's words, with the provider each is for ("" for all).
var sourceFlagKeys = []struct {
	key, provider string
	set           func(s *SourceConfig, v string) error
}{
	{"path", "", func(s *SourceConfig, v string) error { s.Path = v; return nil }},
	{"tolerance", "", func(s *SourceConfig, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 5m (negative: no timestamp check)")
		}
		s.Tolerance = Duration(d)
		return nil
	}},
	{"secret_env", "", func(s *SourceConfig, v string) error { s.SecretEnv = v; return nil }},
	{"public_url", "twilio", func(s *SourceConfig, v string) error { s.PublicURL = v; return nil }},
	{"header", "hmac", func(s *SourceConfig, v string) error { s.HMAC.Header = v; return nil }},
	{"algorithm", "hmac", func(s *SourceConfig, v string) error { s.HMAC.Algorithm = v; return nil }},
	{"encoding", "hmac", func(s *SourceConfig, v string) error { s.HMAC.Encoding = v; return nil }},
	{"prefix", "hmac", func(s *SourceConfig, v string) error { s.HMAC.Prefix = v; return nil }},
	{"template", "hmac", func(s *SourceConfig, v string) error { s.HMAC.Template = v; return nil }},
	{"timestamp_header", "hmac", func(s *SourceConfig, v string) error { s.HMAC.TimestampHeader = v; return nil }},
	{"id_header", "hmac", func(s *SourceConfig, v string) error { s.HMAC.IDHeader = v; return nil }},
	{"type_header", "hmac", func(s *SourceConfig, v string) error { s.HMAC.TypeHeader = v; return nil }},
}

// parseSourceFlag reads one --source value: NAME=PROVIDER[,key=value…].
// label names it in messages.
func parseSourceFlag(label, v string) (SourceConfig, error) {
	parts := strings.Split(v, ",")
	name, provider, ok := strings.Cut(parts[0], "=")
	if !ok {
		name, provider = parts[0], parts[0]
	}
	if name = strings.TrimSpace(name); name == "" || strings.ContainsAny(name, "/ ") {
		return SourceConfig{}, usageError("%s: want NAME=PROVIDER[,key=value...], such as payments=stripe", label)
	}
	s := SourceConfig{Name: name, Provider: strings.TrimSpace(provider), flag: label}
	seen := map[string]bool{}
	for _, kv := range parts[1:] {
		key, val, ok := strings.Cut(kv, "=")
		key = strings.TrimSpace(key)
		switch {
		case key == "secret" || key == "secrets" || key == "verify_token":
			return s, usageError("%s: %s is not taken on the command line, where the shell's history and other users see it: set %s",
				label, key, s.env(map[bool]string{true: "VERIFY_TOKEN", false: "SECRET"}[key == "verify_token"]))
		case !ok || key == "":
			return s, usageError("%s: %q: want key=value (keys: %s)", label, kv, sourceFlagKeyNames())
		case seen[key]:
			return s, usageError("%s: %s is given twice", label, key)
		}
		seen[key] = true
		i := slices.IndexFunc(sourceFlagKeys, func(k struct {
			key, provider string
			set           func(s *SourceConfig, v string) error
		}) bool {
			return k.key == key
		})
		if i < 0 {
			return s, usageError("%s: no setting %q (keys: %s)", label, key, sourceFlagKeyNames())
		}
		if err := sourceFlagKeys[i].set(&s, strings.TrimSpace(val)); err != nil {
			return s, usageError("%s: %s: %v", label, key, err)
		}
	}
	return s, nil
}

func sourceFlagKeyNames() string {
	names := make([]string, len(sourceFlagKeys))
	for i, k := range sourceFlagKeys {
		names[i] = k.key
		if k.provider != "" {
			names[i] += " (" + k.provider + ")"
		}
	}
	return strings.Join(names, ", ")
}

// secretTexts are the secrets of --secret or its environment as given, for
// a provider whose secrets are not Sent's.
func secretTexts(f *pflag.FlagSet, getenv func(string) string) []string {
	var out []string
	for _, v := range strings.Split(settingFrom(f, "secret", nil, getenv, "SENT_WEBHOOK_SECRET", "SENT_DM_WEBHOOK_SECRET"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// releaseSources reads serve's config file for a local release: its
// sources verify their rejections, and Sent's secrets are those serve
// would use.
func releaseSources(f *pflag.FlagSet, b backend, path string, getenv func(string) string) ([]signature.Secret, error) {
	file, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	eps, sent, err := file.fileSources(getenv)
	if err != nil {
		return nil, err
	}
	secrets, err := serveSecrets(f, file.values(), getenv, sent, len(eps) > 0)
	if err != nil {
		return nil, err
	}
	if sb, ok := b.(*storeBackend); ok {
		sb.in.WithSources(receiver.SourcesByName(eps))
	}
	return secrets, nil
}

// signAs signs body as opts.Provider does, with a Content-Type that
// provider sends (a form for Twilio's form bodies, JSON otherwise), and
// returns the URL the provider would post it to: opts.URL, but with a
// JSON body's bodySHA256 for Twilio, which signs through it.
func signAs(opts SignOptions, body []byte) (http.Header, string, error) {
	src, err := source.New(source.Settings{Name: opts.Provider, Provider: opts.Provider, Secrets: []string{opts.SecretText}, VerifyToken: "unused"})
	if err != nil {
		return nil, "", usageError("--provider: %v", err)
	}
	signer, ok := src.(source.Signer)
	if !ok {
		return nil, "", usageError("--provider %s: cannot sign", opts.Provider)
	}
	at := opts.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	id := opts.WebhookID
	if id == "" {
		id = "msg_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	url := source.PostURL(signer, opts.URL, body)
	h, err := signer.Sign(url, body, at, id)
	if err != nil {
		return nil, "", usageError("--url: %v", err)
	}
	if opts.Provider == "twilio" && url == opts.URL {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		h.Set("Content-Type", "application/json")
	}
	return h, url, nil
}

// checkRouteSources refuses a destination's sources: entry that names no
// source serve receives, so that a typo never leaves it without events.
func checkRouteSources(routes []dispatch.Route, sentName string, sent bool, eps []receiver.Endpoint) error {
	if sentName == "" {
		sentName = sentProvider
	}
	known := map[string]bool{}
	names := []string{}
	if sent {
		known[sentName] = true
		names = append(names, sentName)
	}
	for _, ep := range eps {
		known[ep.Name] = true
		names = append(names, ep.Name)
	}
	for i, r := range routes {
		for _, s := range r.Sources {
			if !known[s] {
				return usageError("destinations[%d] (%s): sources: %q is not a source serve receives (%s)", i, r.Name, s, strings.Join(names, ", "))
			}
		}
	}
	return nil
}

// providerSettings reads the --provider PROVIDER[,key=value…] of check and
// listen: the keys of serve's --source, the secrets of --secret (else
// $SENT_WEBHOOK_SECRET, else $HOOKLATCH_SOURCE_<PROVIDER>_SECRET), Meta's
// verify token from $HOOKLATCH_SOURCE_<PROVIDER>_VERIFY_TOKEN. A nil
// config means Sent's.
func providerSettings(value string, f *pflag.FlagSet, getenv func(string) string) (*SourceConfig, source.Settings, error) {
	provider, _, _ := strings.Cut(value, ",")
	label := fmt.Sprintf("--provider %q", value)
	switch provider = strings.TrimSpace(provider); {
	case provider == "" && value == "", provider == sentProvider && provider == value:
		return nil, source.Settings{}, nil
	case provider == sentProvider:
		return nil, source.Settings{}, usageError("%s: sent takes no settings here: its flags are this command's own", label)
	}
	if !slices.Contains(source.Providers(), provider) {
		return nil, source.Settings{}, usageError("%s: unknown provider %q (known: sent, %s)", label, provider, strings.Join(source.Providers(), ", "))
	}
	s, err := parseSourceFlag(label, provider+"="+value)
	if err != nil {
		return nil, source.Settings{}, err
	}
	if err := s.checkSettings(0, getenv); err != nil {
		return nil, source.Settings{}, err
	}
	secrets := secretTexts(f, getenv)
	if len(secrets) == 0 {
		secrets = s.secrets(getenv)
	}
	if len(secrets) == 0 {
		return nil, source.Settings{}, usageError("no %s signing secret: pass --secret, or set SENT_WEBHOOK_SECRET or %s", provider, s.secretEnv())
	}
	return &s, source.Settings{
		Name: provider, Provider: provider, Secrets: secrets, Tolerance: time.Duration(s.Tolerance),
		VerifyToken: s.verifyToken(getenv), PublicURL: s.PublicURL, HMAC: source.HMACSettings(s.HMAC),
	}, nil
}
