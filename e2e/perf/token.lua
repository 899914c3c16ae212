-- wrk: POST /oauth2/token with client_credentials (Basic auth), as an agent gets its token.
local id = os.getenv("CID")
local secret = os.getenv("CSEC")
local resource = os.getenv("RESOURCE")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local function b64(data)
  local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
wrk.headers["Authorization"] = "Basic " .. b64(id .. ":" .. secret)
wrk.body = "grant_type=client_credentials&scope=read%3Ausers&resource=" .. resource:gsub(":", "%%3A"):gsub("/", "%%2F")
local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("TOKENS rps=%.0f p99ms=%.2f non200=%d\n", summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000, summary.errors.status))
end
