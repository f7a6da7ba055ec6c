package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/yamlfile"
)

// ConfigFile is the YAML file `serve --config` reads. Its top-level keys
// are the serve flags' names with underscores; flags and environment
// variables override it.
type ConfigFile struct {
	Addr               string              `yaml:"addr"`
	Path               string              `yaml:"path"`
	TLSCert            string              `yaml:"tls_cert"`
	TLSKey             string              `yaml:"tls_key"`
	TLSDomain          stringList          `yaml:"tls_domain"` // a list, or one string of comma-separated domains
	ACMEDirectory      string              `yaml:"acme_directory"`
	ACMEEmail          string              `yaml:"acme_email"`
	ACMECache          string              `yaml:"acme_cache"`
	ACMECARoot         string              `yaml:"acme_ca_root"`
	HTTPRedirectAddr   string              `yaml:"http_redirect_addr"`
	AdminTLS           bool                `yaml:"admin_tls"`
	Store              string              `yaml:"store"`
	AdminAddr          string              `yaml:"admin_addr"`
	AdminSessionTTL    string              `yaml:"admin_session_ttl"`
	Secret             string              `yaml:"secret"` // comma-separated, like SENT_WEBHOOK_SECRET
	Scheme             string              `yaml:"scheme"`
	Tolerance          string              `yaml:"tolerance"`
	MaxBody            string              `yaml:"max_body"`
	Lease              string              `yaml:"lease"`
	RejectionsMax      int                 `yaml:"rejections_max"`
	RejectionsMaxBytes string              `yaml:"rejections_max_bytes"`
	WALMax             string              `yaml:"wal_max"`
	RejectionBodyMax   string              `yaml:"rejection_body_max"`
	MemoryBudget       string              `yaml:"memory_budget"`
	MinBodyRate        string              `yaml:"min_body_rate"`
	GCPercent          string              `yaml:"gc_percent"`
	AnswerWithin       string              `yaml:"answer_within"`
	Destinations       []DestinationConfig `yaml:"destinations"`
	Sources            []SourceConfig      `yaml:"sources"`
}

// DestinationConfig is one destination in the config file: exactly one
// block of a destination kind (http, exec, log, a broker or a worker
// queue: the keys of kinds), the event types it wants, and its policy.
type DestinationConfig struct {
	Name        string   `yaml:"name"`
	Types       []string `yaml:"types"`
	Filter      string   `yaml:"filter"` // an expression over the event's content: see docs/filters.md
	MaxAttempts int      `yaml:"max_attempts"`
	Timeout     Duration `yaml:"timeout"`
	Concurrency int      `yaml:"concurrency"`
	// Rate limits the attempts: "50/s" or "600/m" (docs/destinations.md).
	Rate string `yaml:"rate"`
	// BreakerFailures is how many consecutive failed attempts open the
	// destination's circuit breaker (docs/controls.md); 0 turns it off,
	// absent: dispatch.DefaultBreakerFailures.
	BreakerFailures *int     `yaml:"breaker_failures"`
	Backoff         Duration `yaml:"backoff"`
	MaxBackoff      Duration `yaml:"max_backoff"`
	// Order is "subject" for FIFO per subject (docs/ordering.md), as the
	// URL parameter ?order=subject asks too; empty or "none": in parallel.
	Order   string   `yaml:"order"`
	Sources []string `yaml:"sources"`

	// Blocks are the kind blocks the entry sets, as their kinds read them.
	Blocks []KindBlock `yaml:"-"`
}

// KindBlock is one destination kind's block of a config file entry.
type KindBlock struct {
	Kind  destination.Kind
	Block any // what Kind.Block returned, filled in
}

// UnmarshalYAML reads the entry's own keys, and each key that names a
// destination kind into that kind's block; any other key is an error.
func (d *DestinationConfig) UnmarshalYAML(n *yaml.Node) error {
	type entry DestinationConfig // without this method
	if n.Kind != yaml.MappingNode {
		return yamlfile.DecodeNode(n, (*entry)(d))
	}
	own := *n
	own.Content = nil
	seen := map[string]int{} // kind keys, by line
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		kind, ok := kinds.Lookup(key.Value)
		line, twice := seen[key.Value]
		seen[key.Value] = key.Line
		switch {
		case !ok:
			own.Content = append(own.Content, key, value)
		case twice:
			return fmt.Errorf("line %d: mapping key %q already defined at line %d", key.Line, key.Value, line)
		case value.Tag != "!!null": // a key with no value sets nothing
			block := kind.Block()
			if err := yamlfile.DecodeNode(value, block); err != nil {
				return err
			}
			d.Blocks = append(d.Blocks, KindBlock{Kind: kind, Block: block})
		}
	}
	return yamlfile.DecodeNode(&own, (*entry)(d))
}

// stringList reads a list of strings, or one string.
type stringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	return yamlfile.DecodeNode(n, (*[]string)(l))
}

// Duration reads "30s", "2m", "1h".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := yamlfile.Duration(n)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// loadConfig reads a config file strictly: an unknown key is an error,
// so a typo never silently falls back to a default.
func loadConfig(path string) (*ConfigFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError("--config: %v", err)
	}
	var cf ConfigFile
	if err := yamlfile.Decode(raw, &cf); err != nil && !errors.Is(err, io.EOF) {
		return nil, usageError("--config %s: %v", path, err)
	}
	return &cf, nil
}

// values maps flag names to the file's settings, for setting().
func (cf *ConfigFile) values() map[string]string {
	v := map[string]string{
		"addr": cf.Addr, "path": cf.Path, "store": cf.Store, "admin-addr": cf.AdminAddr,
		"secret": cf.Secret, "scheme": cf.Scheme, "tolerance": cf.Tolerance, "max-body": cf.MaxBody,
		"lease": cf.Lease, "rejections-max-bytes": cf.RejectionsMaxBytes, "wal-max": cf.WALMax,
		"rejection-body-max": cf.RejectionBodyMax, "memory-budget": cf.MemoryBudget, "min-body-rate": cf.MinBodyRate, "gc-percent": cf.GCPercent,
		"admin-session-ttl": cf.AdminSessionTTL, "answer-within": cf.AnswerWithin,
		"tls-cert": cf.TLSCert, "tls-key": cf.TLSKey, "acme-directory": cf.ACMEDirectory, "acme-email": cf.ACMEEmail,
		"acme-cache": cf.ACMECache, "acme-ca-root": cf.ACMECARoot, "http-redirect-addr": cf.HTTPRedirectAddr,
	}
	if cf.AdminTLS {
		v["admin-tls"] = "true"
	}
	if cf.RejectionsMax > 0 {
		v["rejections-max"] = strconv.Itoa(cf.RejectionsMax)
	}
	return v
}

// routes builds the file's destinations.
func (cf *ConfigFile) routes(log *slog.Logger) ([]dispatch.Route, error) {
	var out []dispatch.Route
	named := map[string]int{}
	for i, d := range cf.Destinations {
		where := fmt.Sprintf("destinations[%d] (%s)", i, d.Name)
		if d.Name == "" {
			return nil, usageError("%s: every destination needs a name", where)
		}
		if j, taken := named[d.Name]; taken {
			return nil, usageError("%s: destinations[%d] has that name already: give each its own", where, j)
		}
		named[d.Name] = i
		if err := checkTypes(where+": types", d.Types); err != nil {
			return nil, err
		}
		filter, err := compileFilter(where+": filter", d.Filter)
		if err != nil {
			return nil, err
		}
		if len(d.Blocks) != 1 {
			return nil, usageError("%s: give exactly one of %s", where, kindNames())
		}
		// The destination's own timeout and the policy's are one setting.
		if d.Timeout == 0 {
			d.Timeout = Duration(dispatch.DefaultTimeout)
		}
		b := d.Blocks[0]
		params := cutBlockParams(b.Block)
		order, err := routeOrder(d.Order, params.ordered)
		if err != nil {
			return nil, usageError("%s: %v", where, err)
		}
		policy := dispatch.Policy{
			MaxAttempts: d.MaxAttempts, Timeout: time.Duration(d.Timeout),
			Retry: dispatch.Backoff{Initial: time.Duration(d.Backoff), Max: time.Duration(d.MaxBackoff)},
		}
		if d.BreakerFailures != nil {
			if policy.BreakerFailures, err = breakerFailures(*d.BreakerFailures); err != nil {
				return nil, usageError("%s: breaker_failures: %v", where, err)
			}
		}
		if err := routeLimits(&policy, d.Rate, d.Concurrency, params); err != nil {
			return nil, usageError("%s: %v", where, err)
		}
		dest, err := b.Kind.New(b.Block, destination.Settings{Timeout: time.Duration(d.Timeout), Logger: log})
		if err != nil {
			return nil, settingError(where+": ", err, func(field string) string { return fileKey(b.Kind, field) })
		}
		out = append(out, dispatch.Route{Name: d.Name, Types: d.Types, Filter: filter, Sources: d.Sources, Destination: dest, Policy: policy, Order: order})
	}
	return out, nil
}

// checkTypes refuses a type pattern that matches nothing, in the terms of
// the setting that gave it.
func checkTypes(what string, patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return usageError("%s: %q is not a type or pattern such as message.delivered or message.*", what, p)
		}
	}
	return nil
}

// compileFilter compiles a destination's filter (none when src is empty),
// refusing a mistake in the terms of the setting that gave it.
func compileFilter(what, src string) (*filter.Filter, error) {
	if src == "" {
		return nil, nil
	}
	f, err := filter.Compile(src)
	if err != nil {
		return nil, usageError("%s: %v", what, err)
	}
	return f, nil
}

// settingError is a usage error for a destination's objection to its
// configuration, naming the setting as the user wrote it: name maps a
// Config field to its flag or config file key.
func settingError(prefix string, err error, name func(field string) string) error {
	if ce, ok := errors.AsType[*destination.ConfigError](err); ok {
		setting := name(ce.Field)
		if setting == "" {
			setting = strings.ToLower(ce.Field)
		}
		if ce.Value != "" {
			return usageError("%s%s %q: %v", prefix, setting, ce.Value, ce.Err)
		}
		return usageError("%s%s: %v", prefix, setting, ce.Err)
	}
	return usageError("%s%v", prefix, err)
}
