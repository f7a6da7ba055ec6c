// Package celerydest sends each event as a Celery task, so an existing
// Celery app runs it with its own worker, retries and Flower, unchanged:
//
//	dest, err := celerydest.New(celerydest.Config{
//		BrokerURL: "amqp://guest:guest@127.0.0.1:5672//", // or redis://127.0.0.1:6379/0
//		Task:      "hooklatch.process_event",              // the default
//		Queue:     "celery",                               // the default
//	})
//
// The worker side is five lines:
//
//	from celery import Celery
//	app = Celery("app", broker="amqp://guest:guest@127.0.0.1:5672//")
//	@app.task(name="hooklatch.process_event")
//	def process_event(event, hooklatch, raw_body, **_):
//	    print(hooklatch["event_type"], hooklatch["event_id"], event["payload"])
//
// # The task
//
// Each delivery is one task message in Celery's message protocol
// version 2, laid out as Celery's own apply_async lays it out
// (celery.app.amqp as_task_v2): headers lang, task, id, root_id,
// parent_id, group, retries, eta, expires, timelimit, argsrepr,
// kwargsrepr, origin, ignore_result; content type application/json,
// encoding utf-8; the body [args, kwargs, embed] as JSON, where
//
//   - args is [event]: the event body parsed as JSON (None when it is not
//     JSON);
//   - kwargs is {"hooklatch": {...}, "raw_body": "..."}: hooklatch's
//     metadata (event_id, event_type, subject, subject_kind, received_at,
//     attempt, delivery_id as a string, stale and subject_status (see
//     docs/ordering.md), source (the source it came in on), attention when hooklatch found the event odd) and the body exactly as Sent sent it (when a body is not
//     UTF-8, raw_body is None and raw_body_base64 carries it);
//   - embed has no callbacks, errbacks, chain or chord.
//
// The headers also carry hooklatch-event-id, hooklatch-event-type,
// hooklatch-subject, hooklatch-received-at, hooklatch-attempt,
// hooklatch-delivery-id, hooklatch-stale ("true" or "false"),
// hooklatch-subject-status and hooklatch-source, the names they have on
// every broker.
//
// The task id is TaskID: a UUIDv5 of the event and the destination's
// delivery, the same on every attempt.
//
// # The transports
//
// On RabbitMQ (amqp://, amqps://) the queue is declared as a Celery worker
// declares it (durable), unless it exists already, and each task is
// published to the default exchange with the queue's name as routing key,
// persistent, mandatory, in confirm mode: a delivery succeeds only once
// RabbitMQ confirms it, and a message RabbitMQ returns as unroutable is a
// failure. Up to 512 publishes wait for their confirm at once on one
// connection; Close waits for those still out.
//
// On Redis (redis://, rediss://) the task is LPUSHed onto the list named as
// the queue, in the JSON envelope kombu's Redis transport uses (body
// base64, properties.delivery_tag, body_encoding, delivery_info, priority
// 0); the worker pops it from the other end. A delivery succeeds once
// Redis answers the LPUSH.
//
// Every failure is temporary: the delivery is tried again.
//
// # Duplicates
//
// Celery does not deduplicate task ids. When an answer is lost (the
// connection drops after RabbitMQ or Redis took the message but before
// hooklatch heard so), the retry sends the task again, and the worker runs
// it twice under the same task id. Make the task idempotent on
// self.request.id (bind=True) or on hooklatch["event_id"].
package celerydest
