-- wrk script: POST real employees (one JSON body per line of the file given as the first argument)
-- to the path given as the second, cycling through them; counts answers other than the expected
-- status (third argument) and prints a JSON summary line for bench/loadgen.py to read.
local bodies_file, path, expected = nil, "/predictions/request", 202
local requests, i = {}, 0
unexpected = 0 -- a global: done() reads it from each thread
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    bodies_file, path, expected = args[1], args[2] or path, tonumber(args[3] or expected)
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(bodies_file) do
        table.insert(requests, wrk.format("POST", path, headers, line))
    end
    i = math.random(#requests)
end

function request()
    i = i % #requests + 1
    return requests[i]
end

function response(status, headers, body)
    if status ~= expected then
        unexpected = unexpected + 1
    end
end

function done(summary, latency, _)
    local other = 0
    for _, thread in ipairs(threads) do
        other = other + thread:get("unexpected")
    end
    local e = summary.errors
    -- With WRK_HISTOGRAM=1, the whole latency histogram as flat pairs of (µs, count), to pool several
    -- runs' requests (bench/loadgen.py). Opt-in: each latency(i) walks wrk's buckets from the minimum.
    local histogram = {}
    for i = 1, (os.getenv("WRK_HISTOGRAM") == "1" and #latency or 0) do
        local us, count = latency(i)
        histogram[#histogram + 1] = string.format("%d,%d", us, count)
    end
    io.write(string.format(
        'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
            .. '"socket_errors": %d, "unexpected_status": %d, "histogram": [' .. table.concat(histogram, ",")
            .. ']}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
        e.connect + e.read + e.write + e.timeout, other))
end
