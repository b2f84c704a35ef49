-- wrk script: the same request the dispatcher sends (1 KiB JSON body and
-- the signature headers), so the ceiling is measured on equal terms.
local pad = string.rep("x", 1024 - 190)
wrk.method = "POST"
wrk.body = '{"event":{"event_sid":"evt_bench","event_type":"bench.tick",' ..
    '"company_sid":"CO_bench","created_at":"2026-11-28T10:00:20.021Z",' ..
    '"payload":{"pad":"' .. pad .. '"}},"sent_at":"2026-11-28T10:00:20.021Z"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "streem-webhooks/bench"
wrk.headers["Streem-Sent-At"] = "2026-11-28T10:00:20.021Z"
wrk.headers["Streem-Signature-Headers"] = "Streem-Sent-At"
wrk.headers["Streem-Signature"] = string.rep("a", 64)
wrk.headers["webhook-id"] = "evt_bench"
wrk.headers["webhook-timestamp"] = "1795860020"
wrk.headers["webhook-signature"] = "v1," .. string.rep("A", 43) .. "="
