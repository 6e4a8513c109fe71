-- Alternate a route examples/hybrid serves in Go with one only Python serves.
local paths = {"/api/users/42", "/json/42?x=1"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[i % 2 + 1])
end
