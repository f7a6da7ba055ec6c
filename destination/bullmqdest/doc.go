// Package bullmqdest adds each event to a BullMQ queue as a job, so an
// existing BullMQ worker runs it with its own retries and Bull Board,
// unchanged:
//
//	dest, err := bullmqdest.New(bullmqdest.Config{
//		RedisURL: "redis://127.0.0.1:6379/0",
//		Queue:    "webhook-processing", // the default
//		Attempts: 5,                    // BullMQ's own attempts and backoff
//		Backoff:  bullmqdest.Backoff{Type: "exponential", Delay: time.Second},
//	})
//
// The worker side is five lines (npm install bullmq@6 ioredis):
//
//	const { Worker } = require("bullmq");
//	new Worker("webhook-processing", async (job) => {
//	  const { event, hooklatch, raw_body } = job.data;
//	  console.log(job.name, hooklatch.event_id, event.payload);
//	}, { connection: { host: "127.0.0.1", port: 6379 } });
//
// # The job
//
//   - name: the event type ("message.delivered");
//   - id: JobID, the event's ID, the same on every attempt;
//   - data: {"event": the body parsed as JSON (null when it is not JSON),
//     "hooklatch": {event_id, event_type, subject, subject_kind,
//     received_at, attempt, delivery_id as a string, attention when
//     hooklatch found the event odd}, "raw_body": the body exactly as Sent
//     sent it (null, with raw_body_base64, when a body is not UTF-8)};
//   - opts: attempts and backoff from Config, and jobId.
//
// The job is written in the Redis layout of BullMQ major version 6
// (BullMQVersion), in one Lua script that does what BullMQ's own
// addStandardJob does: the job hash (name, data, opts, timestamp, delay,
// priority), the id counter, LPUSH onto the wait list, the marker that
// wakes blocked workers (unless the queue is paused or at its global
// concurrency), and the added and waiting events on the events stream.
// The tests run BullMQ 6's own Worker on such jobs, retries included, so a
// layout change in BullMQ fails the tests rather than production.
//
// # Duplicates
//
// A job whose id is already in the queue is not added again, as in
// BullMQ: a retried delivery whose first add did succeed is a success,
// with no second job, and its answer says so. BullMQ keeps completed and
// failed jobs unless the worker removes them (removeOnComplete,
// removeOnFail); once it has, an event delivered again makes a new job.
// So replaying an event whose job BullMQ still keeps adds nothing (the
// attempt's answer says "was already in queue"): remove the job in BullMQ
// first, or let the worker remove completed jobs.
//
// Failures to reach Redis are temporary: the delivery is tried again.
package bullmqdest
