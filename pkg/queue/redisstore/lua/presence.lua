-- ARGV[5] present until (Unix ms), ARGV[6…] session ids. Marks the queued
-- ones present until then (never earlier than already marked), and those
-- held among them as back (lua/admit_common.lua admits them first). Others
-- are ignored, so made-up ids write nothing. Returns how many were marked.
local ids = {}
for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end
local marked = 0
-- In chunks: Lua's unpack takes a few thousand values at most.
for from = 1, #ids, 1000 do
  local chunk = {}
  for i = from, math.min(from + 999, #ids) do chunk[#chunk + 1] = ids[i] end
  local tickets = redis.call('ZMSCORE', K_QUEUE, unpack(chunk))
  local held = redis.call('ZMSCORE', K_HELD, unpack(chunk))
  local add, back = {}, {}
  for i, id in ipairs(chunk) do
    if tickets[i] then
      add[#add + 1], add[#add + 2] = ARGV[5], id
      if held[i] then back[#back + 1], back[#back + 2] = tickets[i], id end
    end
  end
  if #add > 0 then
    redis.call('ZADD', K_PRESENT, 'GT', unpack(add))
    marked = marked + #add / 2
  end
  if #back > 0 then redis.call('ZADD', K_BACK, unpack(back)) end
end
return marked
