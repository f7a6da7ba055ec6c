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
	"github.com/hooklatch/hooklatch/destination/execdest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/yamlfile"
	"github.com/hooklatch/hooklatch/signature"
)

// ConfigFile is the YAML file `serve --config` reads. Its top-level keys
// are the serve flags' names with underscores; flags and environment
// variables override it.
type ConfigFile struct {
	Addr               string              `yaml:"addr"`
	Path               string              `yaml:"path"`
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
}

// DestinationConfig is one destination in the config file: exactly one of
// HTTP, Exec, Log or a broker (Redis, NATS, AMQP, Kafka), the event types it wants, and its policy.
type DestinationConfig struct {
	Name        string   `yaml:"name"`
	Types       []string `yaml:"types"`
	MaxAttempts int      `yaml:"max_attempts"`
	Timeout     Duration `yaml:"timeout"`
	Concurrency int      `yaml:"concurrency"`
	Backoff     Duration `yaml:"backoff"`
	MaxBackoff  Duration `yaml:"max_backoff"`

	HTTP *struct {
		URL     string            `yaml:"url"`
		Secret  string            `yaml:"secret"`
		Scheme  string            `yaml:"scheme"` // v1 (default), legacy or as-received
		Headers map[string]string `yaml:"headers"`
	} `yaml:"http"`
	Exec *struct {
		Command []string `yaml:"command"`
		Env     []string `yaml:"env"`
		Dir     string   `yaml:"dir"`
	} `yaml:"exec"`
	Log *struct{} `yaml:"log"`

	Redis *RedisDestinationConfig `yaml:"redis"`
	NATS  *NATSDestinationConfig  `yaml:"nats"`
	AMQP  *AMQPDestinationConfig  `yaml:"amqp"`
	Kafka *KafkaDestinationConfig `yaml:"kafka"`

	Celery *WorkerDestinationConfig `yaml:"celery"`
	BullMQ *WorkerDestinationConfig `yaml:"bullmq"`
}

// Duration reads "30s", "2m", "1h".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 30s or 2m", n.Line, n.Value)
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
		kinds := 0
		for _, set := range append([]bool{d.HTTP != nil, d.Exec != nil, d.Log != nil}, d.brokerKinds()...) {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, usageError("%s: give exactly one of http, exec, log, redis, nats, amqp or kafka", where)
		}
		// The destination's own timeout and the policy's are one setting.
		if d.Timeout == 0 {
			d.Timeout = Duration(dispatch.DefaultTimeout)
		}
		r := dispatch.Route{Name: d.Name, Types: d.Types, Policy: dispatch.Policy{
			MaxAttempts: d.MaxAttempts, Timeout: time.Duration(d.Timeout), Concurrency: d.Concurrency,
			Retry: dispatch.Backoff{Initial: time.Duration(d.Backoff), Max: time.Duration(d.MaxBackoff)},
		}}
		dest, isBroker, err := d.fileBroker(where)
		switch {
		case err != nil:
			return nil, err
		case isBroker:
			r.Destination = dest
		case d.HTTP != nil:
			url, err := forwardURL(where+": http.url", d.HTTP.URL)
			if err != nil {
				return nil, err
			}
			hc := httpdest.Config{URL: url, Headers: d.HTTP.Headers, Timeout: time.Duration(d.Timeout), Scheme: signature.Scheme(d.HTTP.Scheme)}
			if d.HTTP.Secret != "" {
				s, err := signature.ParseSecret(d.HTTP.Secret)
				if err != nil {
					return nil, secretError(where+": http.secret", err)
				}
				hc.Secret = s
			}
			dest, err := httpdest.New(hc)
			if err != nil {
				return nil, settingError(where+": ", err, fileKeys)
			}
			r.Destination = dest
		case d.Exec != nil:
			dest, err := execdest.New(execdest.Config{Command: d.Exec.Command, Env: d.Exec.Env, Dir: d.Exec.Dir, Timeout: time.Duration(d.Timeout)})
			if err != nil {
				return nil, settingError(where+": ", err, fileKeys)
			}
			r.Destination = dest
		default:
			r.Destination = logdest.New(log)
		}
		out = append(out, r)
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

// fileKeys names a destination's Config fields as the config file does.
var fileKeys = map[string]string{
	"URL": "http.url", "Headers": "http.headers", "Scheme": "http.scheme",
	"Command": "exec.command", "Env": "exec.env", "Dir": "exec.dir", "Timeout": "timeout",
}

// settingError is a usage error for a destination's objection to its
// configuration, naming the setting as the user wrote it: names maps
// Config fields to flags or config file keys.
func settingError(prefix string, err error, names map[string]string) error {
	if ce, ok := errors.AsType[*destination.ConfigError](err); ok {
		name := names[ce.Field]
		if name == "" {
			name = strings.ToLower(ce.Field)
		}
		return usageError("%s%s: %v", prefix, name, ce.Err)
	}
	return usageError("%s%v", prefix, err)
}
