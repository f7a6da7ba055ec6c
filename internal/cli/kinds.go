package cli

import (
	"reflect"
	"strings"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/amqpdest"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/cloudtasksdest"
	"github.com/hooklatch/hooklatch/destination/execdest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/kafkadest"
	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/destination/natsdest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
	"github.com/hooklatch/hooklatch/destination/sqsdest"
)

// kinds are the destination kinds serve offers, in the order help, errors
// and the destinations guide's table list them. Adding a kind is its package, which
// exports its destination.Kind, and a line here; everything else (the
// --forward-to schemes and help, the config file's blocks, the names in
// errors, the destinations guide's table) reads this list.
var kinds = destination.MustRegistry(
	httpdest.Kind,
	execdest.Kind,
	logdest.Kind,
	redisdest.Kind,
	redisdest.ListKind,
	natsdest.Kind,
	amqpdest.Kind,
	kafkadest.Kind,
	sqsdest.Kind,
	cloudtasksdest.Kind,
	celerydest.Kind,
	bullmqdest.Kind,
)

// kindNames lists the kinds' names for a message: "http, exec or log".
func kindNames() string {
	var names []string
	for _, k := range kinds.Kinds() {
		names = append(names, k.Name)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// forwardToHelp is what --forward-to's help says it takes: a URL of each
// kind that has URLs.
func forwardToHelp() string {
	var examples []string
	for _, k := range kinds.Kinds() {
		if k.Example != "" {
			examples = append(examples, k.Example)
		}
	}
	return "deliver every event to this URL, with retries: " + strings.Join(examples, ", ") +
		"; host:port/path assumes http, a bare port localhost; repeat it for several destinations (default: log each event) ($HOOKLATCH_FORWARD_TO, space-separated)"
}

// settingFlags name destination.Settings' fields as serve's flags.
var settingFlags = map[string]string{"Timeout": "--forward-timeout", "Scheme": "--forward-scheme", "Secret": "--forward-secret"}

// flagName names a Config field of kind k as --forward-to and the flags
// beside it set it: "--forward-to stream=".
func flagName(k destination.Kind, field string) string {
	if p, ok := k.Params[field]; ok {
		return strings.TrimSuffix("--forward-to "+p+"=", " =")
	}
	return settingFlags[field]
}

// fileKey names a Config field of kind k as a config file sets it: a key
// of the kind's block ("redis.stream"), the entry's timeout, or a
// parameter of the block's URL ("celery.url task=").
func fileKey(k destination.Kind, field string) string {
	if f, ok := reflect.TypeOf(k.Block()).Elem().FieldByName(field); ok {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		return k.Name + "." + key
	}
	if field == "Timeout" {
		return "timeout"
	}
	if p, ok := k.Params[field]; ok {
		return strings.TrimSuffix(k.Name+".url "+p+"=", " =")
	}
	return ""
}
