// Package event reads the webhook bodies Sent (sent.dm) delivers, in every
// generation of its contract, and knows what they mean: the event's type,
// its status, what it is about, how to deduplicate it, and how to make a
// realistic one.
//
// # Reading a body
//
// Parse takes the raw body, after the signature has been checked, and
// tolerates every shape Sent has used: field "messages" (gen 1) or
// "message"; the event name in "sub_type" or "event" (or nowhere); the body
// in "payload" or "value". Unknown members are kept in Extra.
//
//	env, err := event.Parse(body)
//	if err != nil {
//		// errors.Is(err, event.ErrNotJSON), ErrNotObject, ErrMissingField
//		// or ErrBadPayload: store the body anyway and acknowledge it;
//		// retrying will not make it any better.
//	}
//	env.Type()    // "message.delivered", "template.approved", "contact.opt_out", …
//	env.Status()  // "DELIVERED" (upper case: gen 1's "approved" is "APPROVED")
//	env.Subject() // message_id=8ba7b830-…
//
// Type is the one name to route on. It comes from the sub-type when there
// is one and is derived otherwise: a gen 1 message from its message_status,
// an inbound message from its keys, a template from its status. Known says
// whether the type is in the catalog, Types; an unknown type is still a
// valid event.
//
// The payload decodes into a typed struct for its family: Message,
// Inbound, Template, Contact, ChannelUpdate, Call. Each keeps the keys it
// does not know in Extra. Inbound fills From and To from gen 2's from/to or
// gen 3's inbound_number/outbound_number.
//
// # Accepting each event once
//
// Sent delivers at least once. DedupeKey names an event across retries: the
// X-Webhook-Event-Id header, else the gen 1 envelope id, else the SHA-256 of
// the body (a retry re-signs the same bytes). Never X-Webhook-Id, which
// names the endpoint.
//
//	key := event.DedupeKey(r.Header, body, env) // env may be nil
//
// # Keeping the latest status
//
// Events arrive out of order and some are re-fired. Store every one, and
// let Supersedes decide whether a new status replaces the one on record:
// forward along SCHEDULED < QUEUED < ROUTED < SENT < DELIVERED < READ
// (StatusRank), a failure after anything that is not final, and nothing
// after a final status (IsTerminal).
//
//	if event.Supersedes(env.Status(), current) {
//		current = env.Status()
//	}
//
// # Making events
//
// Sample builds a realistic body for any catalog type, in gen 2 form, gen 3
// (Gen3) or gen 1 (Legacy); Set edits one member of a body without
// disturbing the rest, the way "hooklatch trigger --set" does.
//
//	body, _ := event.Sample("message.delivered", event.SampleOptions{})
//	body, _ = event.Set(body, "payload.message_status", "FAILED")
//
// Every function here takes untrusted bytes: none panics, none recurses on
// the input's nesting, and all allocate in proportion to the input.
package event
