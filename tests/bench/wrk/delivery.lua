-- wrk script: the request a dispatcher sends for one bench event (the
-- 1 KiB payload {"pad":"x..."} of lib/payload.mjs in Streem's envelope,
-- and the signature headers), so the raw HTTP ceiling is measured on equal
-- terms with the dispatcher's deliveries to the same nginx.
local payload = '{"pad":"' .. string.rep("x", 1024 - 10) .. '"}'
wrk.method = "POST"
wrk.body = '{"event":{"event_sid":"evt_0123456789abcdef0123456789",' ..
    '"event_type":"bench.tick","company_sid":"CO_bench",' ..
    '"created_at":"2026-11-28T10:00:20.021Z","payload":' .. payload .. '},' ..
    '"sent_at":"2026-11-28T10:00:20.021Z"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "streem-webhooks/0.1.0"
wrk.headers["Streem-Sent-At"] = "2026-11-28T10:00:20.021Z"
wrk.headers["Streem-Signature-Headers"] = "Streem-Sent-At"
wrk.headers["Streem-Signature"] = string.rep("a", 64)
wrk.headers["webhook-id"] = "evt_0123456789abcdef0123456789"
wrk.headers["webhook-timestamp"] = "1795860020"
wrk.headers["webhook-signature"] = "v1," .. string.rep("A", 43) .. "="
