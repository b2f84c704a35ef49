-- wrk script: the request a dispatcher sends for one bench event, from the
-- file named by BENCH_REQUEST_FILE (captured from a real delivery by
-- lib/request.mjs: header lines, an empty line, the body), so the raw
-- HTTP ceiling is measured on equal terms with the dispatcher's
-- deliveries to the same nginx. wrk sets Host and Content-Length itself.
local f = assert(io.open(os.getenv("BENCH_REQUEST_FILE"), "rb"))
local text = f:read("*a")
f:close()
local head, body = text:match("^(.-)\n\n(.*)$")
assert(head, "no empty line before the body in " .. os.getenv("BENCH_REQUEST_FILE"))
wrk.method = "POST"
wrk.body = body
for name, value in head:gmatch("([^:\n]+): ([^\n]*)") do
	local l = name:lower()
	if l ~= "host" and l ~= "content-length" then
		wrk.headers[name] = value
	end
end
