package destination

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// Kind describes one kind of destination to a front end that builds
// destinations from text: a URL such as serve's --forward-to takes, or a
// block of a config file. Each kind's package exports its Kind (httpdest.Kind,
// redisdest.Kind, …); a front end lists the kinds it offers in a Registry,
// and reads everything it says about them (help, config keys, errors, the
// docs' table) from there.
type Kind struct {
	// Name is the kind's name in help and docs, and the key of its block in
	// a config file ("redis").
	//
	// Required.
	Name string

	// Summary says in a few words where the kind delivers, for the docs'
	// table.
	//
	// Required.
	Summary string

	// Schemes are the URL schemes of the kind's URLs ("redis", "rediss"),
	// lower case. Empty for a kind that has no URL (log, exec).
	Schemes []string

	// Example is a URL of the kind, for help texts. Required with Schemes.
	Example string

	// Fallback makes this kind the one for a URL whose scheme no kind
	// claims, or that has none ("localhost:8080/hooks"). At most one kind
	// of a Registry is the fallback.
	Fallback bool

	// Signs says the kind signs what it sends with Settings.Secrets; a
	// front end refuses a secret for the kinds that do not.
	Signs bool

	// Params names the Config fields a URL of the kind sets by their query
	// parameters, so that a front end can point at the parameter a
	// ConfigError is about. The field the URL itself sets maps to "".
	Params map[string]string

	// Block returns a new, empty config block: a pointer to a struct whose
	// fields, tagged `yaml:"key"`, are the block's keys. A field named like
	// the Config field it sets lets a front end name that key in errors.
	//
	// Required.
	Block func() any

	// New builds a destination from a block that Block returned, filled in
	// from a config file.
	//
	// Required.
	New func(block any, s Settings) (Destination, error)

	// FromURL builds a destination from a URL of one of Schemes (or any, for
	// the Fallback kind). Required with Schemes.
	FromURL func(raw string, s Settings) (Destination, error)
}

// Settings are what every kind is given besides its block or URL.
type Settings struct {
	// Timeout bounds each attempt. Zero leaves the kind's own default.
	Timeout time.Duration
	// Logger is where a kind that logs writes.
	Logger *slog.Logger
	// Secrets, for a kind that Signs, sign what it sends, each (several
	// while the receiving app rotates its secret); none sends unsigned.
	Secrets []signature.Secret
	// Scheme is how a kind that Signs signs; empty for its default.
	Scheme signature.Scheme
}

// Built returns what a kind's constructor returned as a Destination, so
// that an error never comes with a typed nil: return Built(New(cfg)).
func Built[D Destination](d D, err error) (Destination, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Registry is the kinds a front end offers, in the order it lists them.
type Registry struct {
	kinds    []Kind
	byName   map[string]int
	byScheme map[string]int
	fallback int // -1 when none
}

// NewRegistry checks that kinds describe themselves fully and that no two
// claim a name or a scheme, and returns them as a Registry.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: kinds, byName: map[string]int{}, byScheme: map[string]int{}, fallback: -1}
	for i, k := range kinds {
		if err := k.check(); err != nil {
			return nil, err
		}
		if j, taken := r.byName[k.Name]; taken {
			return nil, fmt.Errorf("destination kinds %d and %d are both named %q", j, i, k.Name)
		}
		r.byName[k.Name] = i
		for _, s := range k.Schemes {
			if j, taken := r.byScheme[s]; taken {
				return nil, fmt.Errorf("destination kinds %s and %s both claim the scheme %s://", kinds[j].Name, k.Name, s)
			}
			r.byScheme[s] = i
		}
		if k.Fallback {
			if r.fallback >= 0 {
				return nil, fmt.Errorf("destination kinds %s and %s are both the fallback", kinds[r.fallback].Name, k.Name)
			}
			r.fallback = i
		}
	}
	return r, nil
}

// MustRegistry is NewRegistry for a list fixed in the code: it panics on
// a kind that is described wrong.
func MustRegistry(kinds ...Kind) *Registry {
	r, err := NewRegistry(kinds...)
	if err != nil {
		panic(err)
	}
	return r
}

func (k Kind) check() error {
	switch {
	case k.Name == "" || strings.ToLower(k.Name) != k.Name:
		return fmt.Errorf("destination kind %q: want a lower-case Name", k.Name)
	case k.Summary == "" || k.Block == nil || k.New == nil:
		return fmt.Errorf("destination kind %s: Summary, Block and New are required", k.Name)
	case (len(k.Schemes) > 0 || k.Fallback) && (k.FromURL == nil || k.Example == ""):
		return fmt.Errorf("destination kind %s: a kind with URLs needs FromURL and Example", k.Name)
	}
	for _, s := range k.Schemes {
		if s == "" || strings.ToLower(s) != s {
			return fmt.Errorf("destination kind %s: scheme %q: want lower case", k.Name, s)
		}
	}
	return nil
}

// Kinds returns the kinds in the order the front end lists them.
func (r *Registry) Kinds() []Kind { return r.kinds }

// Lookup returns the kind of that name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	i, ok := r.byName[name]
	if !ok {
		return Kind{}, false
	}
	return r.kinds[i], true
}

// ForURL returns the kind whose scheme raw has, else the fallback kind;
// ok is false when there is neither.
func (r *Registry) ForURL(raw string) (k Kind, ok bool) {
	scheme, _, found := strings.Cut(strings.TrimSpace(raw), "://")
	if i, claimed := r.byScheme[strings.ToLower(scheme)]; found && claimed {
		return r.kinds[i], true
	}
	if r.fallback < 0 {
		return Kind{}, false
	}
	return r.kinds[r.fallback], true
}

// URLBuilder makes a Kind.FromURL of a package's own ParseURL and New:
// parse reads the URL (trimmed of spaces) into a Config, settings (when
// not nil) gives it what Settings carries, and build checks it.
func URLBuilder[C any, D Destination](parse func(string) (C, error), settings func(*C, Settings), build func(C) (D, error)) func(string, Settings) (Destination, error) {
	return func(raw string, s Settings) (Destination, error) {
		cfg, err := parse(strings.TrimSpace(raw))
		if err != nil {
			return nil, err
		}
		if settings != nil {
			settings(&cfg, s)
		}
		return Built(build(cfg))
	}
}

// URLBlock is the config file block of a kind whose URL says everything
// (celery, bullmq): `celery: {url: "celery+amqp://…"}`.
type URLBlock struct {
	URL string `yaml:"url"`
}
