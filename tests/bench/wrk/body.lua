-- wrk script: POST the body in the file named by BENCH_BODY_FILE, with the
-- Authorization header in BENCH_AUTH (if set). The same script and file
-- drive the api's ingest routes and the Kore no-op route, so both are
-- loaded on equal terms.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
	wrk.headers["Authorization"] = auth
end
