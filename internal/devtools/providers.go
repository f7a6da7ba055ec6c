package devtools

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ProviderRequest is a sample of another provider's webhook: its body and
// the headers the provider sends beside its signature (the event type, the
// delivery id). The caller signs it as the provider does.
type ProviderRequest struct {
	Name        string // the sample's type, as trigger --provider names it
	Body        []byte
	Header      map[string]string
	ContentType string
}

// providerSample builds one sample at now.
type providerSample struct {
	name  string
	build func(now time.Time) ProviderRequest
}

// ProviderSampleTypes lists the sample types of provider, in order; nil
// for a provider without samples (sent's are trigger's own, hmac's are
// yours).
func ProviderSampleTypes(provider string) []string {
	var out []string
	for _, s := range providerSamples[provider] {
		out = append(out, s.name)
	}
	return out
}

// ProviderSamples builds count fresh samples of each type of provider,
// each with ids of its own.
func ProviderSamples(provider string, types []string, count int, now time.Time) ([]ProviderRequest, error) {
	samples, ok := providerSamples[provider]
	if !ok {
		known := make([]string, 0, len(providerSamples))
		for p := range providerSamples {
			known = append(known, p)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("provider %q has no samples (those with samples: %s)", provider, strings.Join(known, ", "))
	}
	var out []ProviderRequest
	for _, t := range types {
		i := slices.IndexFunc(samples, func(s providerSample) bool { return s.name == t })
		if i < 0 {
			return nil, fmt.Errorf("%s has no sample %q (its samples: %s)", provider, t, strings.Join(ProviderSampleTypes(provider), ", "))
		}
		for range max(count, 1) {
			r := samples[i].build(now)
			r.Name = t
			out = append(out, r)
		}
	}
	return out, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randDigits is n random decimal digits, the first not 0.
func randDigits(n int) string {
	b := []byte(randHex(n))
	for i := range b {
		b[i] = '0' + b[i]%10
		if i == 0 && b[i] == '0' {
			b[i] = '1'
		}
	}
	return string(b)
}

func randAlnum(n int) string { return strings.ToUpper(randHex(n))[:n] }

func jsonRequest(body string, header map[string]string) ProviderRequest {
	return ProviderRequest{Body: []byte(body), Header: header, ContentType: "application/json"}
}

// stripeEvent is a Stripe event as stripe-node's webhooks deliver it.
func stripeEvent(typ, object string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		return jsonRequest(fmt.Sprintf(`{"id":"evt_%s","object":"event","api_version":"2024-06-20","created":%d,"data":{"object":%s},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":%q}`,
			randAlnum(24), now.Unix(), strings.ReplaceAll(object, "{rand}", randAlnum(14)), typ), nil)
	}
}

func githubEvent(event, body string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		return jsonRequest(strings.ReplaceAll(strings.ReplaceAll(body, "{sha}", randHex(20)), "{now}", now.UTC().Format(time.RFC3339)),
			map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": uuid.NewString(), "X-GitHub-Hook-ID": "460123456"})
	}
}

func shopifyEvent(topic, body string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		id := randDigits(13)
		return jsonRequest(strings.ReplaceAll(strings.ReplaceAll(body, "{id}", id), "{now}", now.UTC().Format(time.RFC3339)),
			map[string]string{"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": uuid.NewString(), "X-Shopify-Event-Id": uuid.NewString(),
				"X-Shopify-Shop-Domain": "example.myshopify.com", "X-Shopify-API-Version": "2024-07", "X-Shopify-Triggered-At": now.UTC().Format(time.RFC3339Nano)})
	}
}

func slackEvent(event string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		return jsonRequest(fmt.Sprintf(`{"token":"XXYYZZ","team_id":"T0001ABCD","api_app_id":"A0KRD7HC3","event":%s,"type":"event_callback","event_id":"Ev%s","event_time":%d,"authorizations":[{"team_id":"T0001ABCD","user_id":"U0LAN0Z89","is_bot":true}]}`,
			strings.ReplaceAll(event, "{ts}", fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)), randAlnum(9), now.Unix()), nil)
	}
}

func whatsappChange(value string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		v := strings.ReplaceAll(strings.ReplaceAll(value, "{wamid}", "wamid.HBgL"+randAlnum(24)), "{now}", strconv.FormatInt(now.Unix(), 10))
		return jsonRequest(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},`+v+`},"field":"messages"}]}]}`, nil)
	}
}

func twilioForm(fields ...string) func(time.Time) ProviderRequest {
	return func(time.Time) ProviderRequest {
		v := url.Values{}
		sid := "SM" + randHex(16)
		v.Set("AccountSid", "AC"+randHex(16))
		v.Set("MessageSid", sid)
		v.Set("SmsSid", sid)
		v.Set("From", "+14155550100")
		v.Set("To", "+14155550199")
		v.Set("ApiVersion", "2010-04-01")
		for i := 0; i+1 < len(fields); i += 2 {
			v.Set(fields[i], fields[i+1])
		}
		return ProviderRequest{Body: []byte(v.Encode()), ContentType: "application/x-www-form-urlencoded"}
	}
}

func standardEvent(typ, data string) func(time.Time) ProviderRequest {
	return func(now time.Time) ProviderRequest {
		return jsonRequest(fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":%s}`, typ, now.UTC().Format(time.RFC3339Nano),
			strings.ReplaceAll(data, "{rand}", randAlnum(12))), nil)
	}
}

// providerSamples are a few realistic events of each provider, shaped as
// its documentation's examples.
var providerSamples = map[string][]providerSample{
	"stripe": {
		{"invoice.paid", stripeEvent("invoice.paid", `{"id":"in_{rand}","object":"invoice","amount_paid":2000,"currency":"usd","customer":"cus_{rand}","status":"paid"}`)},
		{"payment_intent.succeeded", stripeEvent("payment_intent.succeeded", `{"id":"pi_{rand}","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded"}`)},
		{"customer.created", stripeEvent("customer.created", `{"id":"cus_{rand}","object":"customer","email":"jenny.rosen@example.com","name":"Jenny Rosen"}`)},
	},
	"github": {
		{"push", githubEvent("push", `{"ref":"refs/heads/main","before":"{sha}","after":"{sha}","repository":{"id":1296269,"full_name":"octocat/Hello-World"},"pusher":{"name":"octocat"},"head_commit":{"id":"{sha}","message":"Fix the README","timestamp":"{now}"}}`)},
		{"pull_request", githubEvent("pull_request", `{"action":"opened","number":1347,"pull_request":{"id":1,"number":1347,"state":"open","title":"Amazing new feature","head":{"sha":"{sha}"}},"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}`)},
		{"issues", githubEvent("issues", `{"action":"opened","issue":{"id":1,"node_id":"I_{sha}","number":1347,"title":"Found a bug","state":"open","created_at":"{now}"},"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}`)},
	},
	"shopify": {
		{"orders/create", shopifyEvent("orders/create", `{"id":{id},"admin_graphql_api_id":"gid://shopify/Order/{id}","created_at":"{now}","currency":"USD","total_price":"199.00","financial_status":"paid","line_items":[{"id":1,"title":"Aviator sunglasses","quantity":1,"price":"199.00"}]}`)},
		{"products/update", shopifyEvent("products/update", `{"id":{id},"admin_graphql_api_id":"gid://shopify/Product/{id}","title":"Example T-Shirt","updated_at":"{now}","status":"active"}`)},
	},
	"slack": {
		{"message", slackEvent(`{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world","ts":"{ts}","event_ts":"{ts}","channel_type":"channel"}`)},
		{"app_mention", slackEvent(`{"type":"app_mention","user":"U061F7AUR","text":"<@U0LAN0Z89> is it everything a river should be?","ts":"{ts}","channel":"C0LAN2Q65","event_ts":"{ts}"}`)},
	},
	"meta": {
		{"messages", whatsappChange(`"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551181"}],"messages":[{"from":"16315551181","id":"{wamid}","timestamp":"{now}","text":{"body":"Hello, is this open today?"},"type":"text"}]`)},
		{"statuses", whatsappChange(`"statuses":[{"id":"{wamid}","status":"delivered","timestamp":"{now}","recipient_id":"16315551181","pricing":{"billable":true,"pricing_model":"CBP","category":"service"}}]`)},
	},
	"twilio": {
		{"message.received", twilioForm("Body", "Hello from the sample", "NumMedia", "0", "SmsStatus", "received")},
		{"message.delivered", twilioForm("MessageStatus", "delivered", "SmsStatus", "delivered")},
	},
	"standard-webhooks": {
		{"invoice.paid", standardEvent("invoice.paid", `{"id":"inv_{rand}","amount":2000,"currency":"usd"}`)},
		{"user.created", standardEvent("user.created", `{"id":"usr_{rand}","email":"jenny.rosen@example.com"}`)},
	},
}
