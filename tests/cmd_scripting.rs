//! Lua scripts (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT): replies and
//! error texts against a real Redis 7.0, atomicity and replication of a
//! script's effects, BUSY and SCRIPT KILL, and redis-py's `Lock`, which is
//! built on scripts.

mod support;

use std::time::Duration;
use support::*;

/// An error reply's text, or the reply shown.
fn line(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.clone(),
        other => format!("{other:?}"),
    }
}

/// Scripts and what they return, sent to Redis and to sledis on fresh
/// servers: every reply must be the same, error texts included.
const CASES: &[&[&str]] = &[
    &["EVAL", "return 1", "0"],
    &["EVAL", "return {1, 'two', {3, 'x'}, nil, 5}", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -2.5", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {err='bad thing'}", "0"],
    &["EVAL", "return redis.error_reply('My Error')", "0"],
    &["EVAL", "return redis.status_reply('FINE')", "0"],
    &[
        "EVAL",
        "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}",
        "2",
        "k1",
        "k2",
        "a1",
        "a2",
    ],
    &[
        "EVAL",
        "return redis.call('set', KEYS[1], ARGV[1])",
        "1",
        "s",
        "hello",
    ],
    &["EVAL", "return redis.call('get', KEYS[1])", "1", "s"],
    &["EVAL", "return redis.call('get', 'missing')", "0"],
    &["EVAL", "return type(redis.call('get', 'missing'))", "0"],
    &["EVAL", "return redis.call('incr', 's')", "0"],
    &["EVAL", "return redis.pcall('incr', 's')", "0"],
    &[
        "EVAL",
        "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e}",
        "0",
    ],
    &[
        "EVAL",
        "local ok, e = pcall(error, {err='x'}) return {type(e), e}",
        "0",
    ],
    &[
        "EVAL",
        "local function f() return redis.call('incr', 's') end\nreturn f()",
        "0",
    ],
    &["EVAL", "local x = 1\n\nreturn redis.call('incr', 's')", "0"],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.call('set', {})", "0"],
    &["EVAL", "return redis.call('set', 'k')", "0"],
    &["EVAL", "return redis.call('blpop', 'l', 0)", "0"],
    &["EVAL", "return redis.call('multi')", "0"],
    &["EVAL", "return redis.call('set', 'n', 10/3)", "0"],
    &["GET", "n"],
    &["EVAL", "return redis.call('set', 'n', 0.1)", "0"],
    &["GET", "n"],
    &["EVAL", "return redis.call('set', 'n', 1e20)", "0"],
    &["GET", "n"],
    &["EVAL", "return redis.call('rpush', 'l', 1, 2, 3)", "0"],
    &["EVAL", "return redis.call('lrange', 'l', 0, -1)", "0"],
    &["EVAL", "return redis.call('get', 'l')", "0"],
    &["EVAL", "return redis.call('hgetall', 'nohash')", "0"],
    &["EVAL", "return redis.call('ping')", "0"],
    &["EVAL", "return redis.call('ping')['ok']", "0"],
    &["EVAL", "x = 1", "0"],
    &["EVAL", "return undefined_thing", "0"],
    &["EVAL", "string.x = 1", "0"],
    &["EVAL", "redis.call = nil", "0"],
    &["EVAL", "return _G.string ~= nil", "0"],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "return (nil)[1]", "0"],
    &["EVAL", "syntax error here", "0"],
    &["EVAL", "return os", "0"],
    &[
        "EVAL",
        "return {type(loadstring), type(unpack), type(setfenv), type(dofile)}",
        "0",
    ],
    &["EVAL", "return redis.sha1hex('')", "0"],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.REDIS_VERSION", "0"],
    &["EVAL", "return redis.call('select', 2)", "0"],
    &["EVAL", "return redis.call('dbsize')", "0"],
    &[
        "EVAL",
        "redis.call('set', 'w', '1') error('after a write')",
        "0",
    ],
    &["GET", "w"],
    &["EVAL_RO", "return redis.call('get', 's')", "0"],
    &["EVAL_RO", "return redis.call('set', 's', 'x')", "0"],
    &["EVAL", "return 1", "-1"],
    &["EVAL", "return 1", "3", "a"],
    &["EVAL", "return 1", "x"],
    &["EVAL", "return 1"],
    &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    &["SCRIPT", "LOAD", "return 1"],
    &["SCRIPT", "LOAD", "return +"],
    &[
        "SCRIPT",
        "EXISTS",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "ffff",
    ],
    &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    &["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    &[
        "EVALSHA_RO",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "0",
    ],
    &["EVALSHA", "abc", "0"],
    &["SCRIPT", "FLUSH"],
    &[
        "SCRIPT",
        "EXISTS",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
    ],
    &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    &["SCRIPT", "FLUSH", "SYNC"],
    &["SCRIPT", "FLUSH", "BAD"],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "NOSUCH"],
    &["EVAL", "return {bit.tobit(0xffffffff), bit.tobit(2^32+1), bit.tohex(255), bit.tohex(-1, -4), bit.tohex(1, 12), bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1,2,4), bit.bxor(5,1)}", "0"],
    &["EVAL", "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(1e20), bit.lshift(1, 33)}", "0"],
    &["EVAL", "return bit.band()", "0"],
    &["EVAL", "return bit.band('x')", "0"],
    &["EVAL", "return bit.bor(1, {})", "0"],
    &["EVAL", "return bit.tohex('12')", "0"],
    &["EVAL", "return bit.tohex(1, nil)", "0"],
    &["EVAL", "bit.x = 1", "0"],
    &["eval", "return cjson.encode({1,2,3,'a',{x=1}})", "0"],
    &["eval", "return cjson.encode({})", "0"],
    &["eval", "return cjson.encode({a=1,b='x',c=true,d=false})", "0"],
    &["eval", "return cjson.encode('a\"b/c\\\\d\\n\\1\\127')", "0"],
    &["eval", "return cjson.encode(1/3)", "0"],
    &["eval", "return cjson.encode(1e300)", "0"],
    &["eval", "return cjson.encode(0/0)", "0"],
    &["eval", "return cjson.encode({[1]=1,[3]=3})", "0"],
    &["eval", "return cjson.encode({[1]=1,[20]=3})", "0"],
    &["eval", "return cjson.encode({[1.5]=1})", "0"],
    &["eval", "return cjson.encode({[true]=1})", "0"],
    &["eval", "return cjson.encode(cjson.null)", "0"],
    &["eval", "return cjson.encode(redis.call)", "0"],
    &["eval", "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9x\",\"d\":1.5e3}') return {t.a[1], tostring(t.a[3].b == cjson.null), t.c, t.d}", "0"],
    &["eval", "return cjson.decode('[1,')", "0"],
    &["eval", "return cjson.decode('x')", "0"],
    &["eval", "return cjson.decode('')", "0"],
    &["eval", "return cjson.decode('{\"a\":1} x')", "0"],
    &["eval", "return type(cjson.decode('null'))", "0"],
    &["eval", "return cjson.encode({a={b={c={}}}})", "0"],
    &["eval", "return cjson.encode({[10]=1, [9]=2, [8]=3, [7]=4, [6]=5, [5]=6, [4]=7, [3]=8, [2]=9, [1]=10})", "0"],
    &["eval", "return cjson.encode({1,2,nil,4})", "0"],
    &["eval", "return cjson.encode({x=cjson.null})", "0"],
    &["eval", "return cjson.decode('\"\\\\ud83d\\\\ude00\"')", "0"],
    &["eval", "return cjson.encode(-0.0)", "0"],
    &["eval", "return cjson.encode(12345678901234567890)", "0"],
    &["eval", "return cjson.decode('01')", "0"],
    &["eval", "return cjson.encode(cjson.decode('{\"name\":\"job\",\"data\":{\"x\":[1,2,3],\"y\":\"z\"},\"opts\":{\"attempts\":3,\"delay\":0}}'))", "0"],
    &["eval", "return cjson.decode('{\"a\" 1}')", "0"],
    &["eval", "return cjson.decode('{1:2}')", "0"],
    &["eval", "return cjson.decode('[1 2]')", "0"],
    &["eval", "return cjson.decode('\"\\\\x\"')", "0"],
    &["eval", "return cjson.decode('\"abc')", "0"],
    &["eval", "return cjson.decode('tru')", "0"],
    &["eval", "return cjson.decode('-')", "0"],
    &["eval", "return cjson.decode({})", "0"],
    &["eval", "return cjson.decode()", "0"],
    &["eval", "return cjson.encode()", "0"],
    &["eval", "return cjson.encode(1, 2)", "0"],
    &["eval", "return cjson.decode(12)", "0"],
    &["eval", "local t = {} for i = 1, 100 do t['k' .. i] = i end return cjson.encode(t)", "0"],
    &["eval", "return cjson.encode({['a/b']=1, [2]=3})", "0"],
    &["eval", "return cjson.decode('[1.5, -2, 1e2, 0.1]')", "0"],
    &["eval", "local r = {} for _, v in ipairs({cmsgpack.pack(1), cmsgpack.pack(-1), cmsgpack.pack(200), cmsgpack.pack(-200), cmsgpack.pack(70000), cmsgpack.pack(1.5), cmsgpack.pack(0.1), cmsgpack.pack('hi'), cmsgpack.pack({1,2}), cmsgpack.pack({a=1}), cmsgpack.pack({}), cmsgpack.pack(true), cmsgpack.pack(nil), cmsgpack.pack(1,2)}) do r[#r+1] = string.gsub(v, '.', function(c) return string.format('%02x', string.byte(c)) end) end return r", "0"],
    &["eval", "local r = {} for _, v in ipairs({cmsgpack.pack(-33), cmsgpack.pack(-40000), cmsgpack.pack(-3000000000), cmsgpack.pack(5000000000), cmsgpack.pack(2^53), cmsgpack.pack(string.rep('x', 40)), cmsgpack.pack(string.rep('x', 300)), cmsgpack.pack({1,2,nil,4}), cmsgpack.pack({[2]=1}), cmsgpack.pack(0/0), cmsgpack.pack(1/0), cmsgpack.pack(redis.call), cmsgpack.pack({{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}})}) do r[#r+1] = string.gsub(v, '.', function(c) return string.format('%02x', string.byte(c)) end) end return r", "0"],
    &["eval", "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{x='y'}}, 2.5, -7, 70000))}", "0"],
    &["eval", "return cmsgpack.pack()", "0"],
    &["eval", "return cmsgpack.unpack('\\205')", "0"],
    &["eval", "return {cmsgpack.unpack_one(cmsgpack.pack(1,2), 0)}", "0"],
    &["eval", "return {cmsgpack.unpack_one(cmsgpack.pack(1,2), 1)}", "0"],
    &["eval", "return cmsgpack.unpack('')", "0"],
    &["eval", "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}", "0"],
    &["eval", "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={c='d'}})) return {t.a, t.b.c}", "0"],
    &["eval", "return cmsgpack.unpack('\\193')", "0"],
    &["eval", "return cmsgpack.unpack('\\220\\255\\255')", "0"],
    &["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','k','v')", "0"],
    &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"],
    &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    &["EVAL", "#!python\nreturn 1", "0"],
    &["EVAL", "#!lua\nreturn redis.call('set','k','v')", "0"],
    &["EVAL", "#!lua flags=no-writes,allow-stale\nreturn 2", "0"],
    &["EVAL", "#!lua name=x\nreturn 1", "0"],
    &["EVAL", "#!lua flags=no-writes,no-writes\nreturn 3", "0"],
    &["EVAL", "#!lua  flags=no-writes\nreturn 4", "0"],
    &["EVAL", "#!lua flags=\nreturn 5", "0"],
    &["EVAL", "#!luax\nreturn 6", "0"],
    &["EVAL", "#!lua\nx = 1", "0"],
    &["EVAL_RO", "#!lua\nreturn redis.call('set','k','v')", "0"],
    &["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"],
    &["EVAL", "#!lua flags=allow-oom,no-cluster,allow-cross-slot-keys\nreturn 7", "0"],
    &["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"],
    &["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 1"],
    &["EVAL", "#!lua", "0"],
    &["EVAL", "#!lua\nerror('line two')", "0"],
    &["EVAL", "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end return {hex(struct.pack('>i', 1)), hex(struct.pack('<i', 1)), hex(struct.pack('>H', 513)), hex(struct.pack('b', -1)), hex(struct.pack('>l', -2)), hex(struct.pack('>i2', 258)), hex(struct.pack('s', 'ab')), hex(struct.pack('c3', 'abcdef')), hex(struct.pack('>d', 1.5)), hex(struct.pack('>f', 1.5)), hex(struct.pack('xB', 7)), hex(struct.pack('!4 b i', 1, 2)), hex(struct.pack('>I3', 65536)), hex(struct.pack('c0', 'xyz')), hex(struct.pack('<i10', -1)), hex(struct.pack('!2 b h', 1, 2)), hex(struct.pack('! b d', 1, 2))}", "0"],
    &["EVAL", "return {struct.unpack('>i', '\\0\\0\\1\\0')}", "0"],
    &["EVAL", "return {struct.unpack('>HB', '\\1\\2\\3')}", "0"],
    &["EVAL", "return {struct.unpack('s', 'ab\\0cd')}", "0"],
    &["EVAL", "return {struct.unpack('>b c0', '\\3abc')}", "0"],
    &["EVAL", "return {struct.unpack('<h', '\\255\\255'), struct.unpack('<H', '\\255\\255'), struct.unpack('>i3', '\\255\\255\\254')}", "0"],
    &["EVAL", "return struct.size('>iHd')", "0"],
    &["EVAL", "return struct.size('!4 b i c3')", "0"],
    &["EVAL", "return struct.pack('q', 1)", "0"],
    &["EVAL", "return struct.unpack('>i', 'ab')", "0"],
    &["EVAL", "return struct.size('s')", "0"],
    &["EVAL", "return struct.size('c0')", "0"],
    &["EVAL", "return {struct.unpack('>i', '\\0\\0\\0\\1\\0\\0\\0\\2', 5)}", "0"],
    &["EVAL", "return struct.pack('i', 'x')", "0"],
    &["EVAL", "return struct.pack('i')", "0"],
    &["EVAL", "return struct.pack('c5', 'ab')", "0"],
    &["EVAL", "return struct.unpack('s', 'abc')", "0"],
    &["EVAL", "return struct.pack('!3 i', 1)", "0"],
    &["EVAL", "return struct.pack('i40', 1)", "0"],
    &["EVAL", "return {struct.unpack('>d', struct.pack('>d', 0.1))}", "0"],
    &["EVAL", "return {struct.unpack('<f', struct.pack('<f', 0.5))}", "0"],
    // cjson's settings, which last from script to script.
    &["EVAL", "return {cjson.encode_sparse_array()}", "0"],
    &["EVAL", "return {cjson.encode_max_depth()}", "0"],
    &["EVAL", "return {cjson.decode_max_depth()}", "0"],
    &["EVAL", "return {cjson.encode_number_precision()}", "0"],
    &["EVAL", "return {cjson.encode_keep_buffer()}", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers()}", "0"],
    &["EVAL", "return {cjson.decode_invalid_numbers()}", "0"],
    &["EVAL", "return cjson.encode(cjson.decode('[0x10, 1e2, 0x1p4, +5, 007, -0x10]'))", "0"],
    &["EVAL", "return cjson.encode({cjson.decode('[inf]')})", "0"],
    &["EVAL", "return cjson.encode(cjson.decode('[nan]'))", "0"],
    &["EVAL", "return cjson.encode(cjson.decode('[Infinity]'))", "0"],
    &["EVAL", "return cjson.encode(cjson.decode('[-inf]'))", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1-2]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1e]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[.5]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[-]')}", "0"],
    &["EVAL", "return cjson.encode_max_depth(0)", "0"],
    &["EVAL", "return cjson.encode_max_depth(1, 2)", "0"],
    &["EVAL", "return cjson.encode_max_depth('x')", "0"],
    &["EVAL", "return cjson.encode_max_depth('7')", "0"],
    &["EVAL", "return cjson.encode_number_precision(15)", "0"],
    &["EVAL", "return cjson.encode_number_precision(0)", "0"],
    &["EVAL", "return cjson.encode_sparse_array(2)", "0"],
    &["EVAL", "return cjson.encode_sparse_array(true, -1)", "0"],
    &["EVAL", "return cjson.encode_invalid_numbers('x')", "0"],
    &["EVAL", "return cjson.encode_keep_buffer(1)", "0"],
    &["EVAL", "return {cjson.encode_sparse_array(true, 2, 3)}", "0"],
    &["EVAL", "return cjson.encode({[1]=1,[5]=2})", "0"],
    &["EVAL", "return {cjson.encode_sparse_array()}", "0"],
    &["EVAL", "return {cjson.encode_sparse_array(true, 0)}", "0"],
    &["EVAL", "return cjson.encode({[1]=1,[50]=2})", "0"],
    &["EVAL", "return {cjson.encode_sparse_array(false, 2, 10)}", "0"],
    &["EVAL", "return {cjson.encode_sparse_array(nil, 3)}", "0"],
    &["EVAL", "return {pcall(cjson.encode, {[1]=1,[40]=2})}", "0"],
    &["EVAL", "cjson.encode_sparse_array(false, 2, 10) return 1", "0"],
    &["EVAL", "return {cjson.encode_number_precision(3), cjson.encode(math.pi), cjson.encode({[math.pi]=1})}", "0"],
    &["EVAL", "return cjson.encode(math.pi)", "0"],
    &["EVAL", "cjson.encode_number_precision(14) return 1", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers(true), cjson.encode({1/0, -1/0})}", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers('null'), cjson.encode({1/0, -1/0, 0/0})}", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers(false)}", "0"],
    &["EVAL", "return {cjson.encode_max_depth(2), pcall(cjson.encode, {{{1}}})}", "0"],
    &["EVAL", "cjson.encode_max_depth(1000) return 1", "0"],
    &["EVAL", "return {cjson.decode_max_depth(2), pcall(cjson.decode, '[[[1]]]')}", "0"],
    &["EVAL", "cjson.decode_max_depth(1000) return 1", "0"],
    &["EVAL", "return {cjson.decode_invalid_numbers(false), pcall(cjson.decode, '[0x10]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[inf]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[+1]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[01]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1.5e3]')}", "0"],
    &["EVAL", "return {cjson.decode_invalid_numbers(true)}", "0"],
    &["EVAL", "return cjson.encode_keep_buffer('on')", "0"],
    &["EVAL", "return cjson.encode_invalid_numbers('on')", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers('off')}", "0"],
    &["MULTI"],
    &["EVAL", "return redis.call('incr', 'm')", "0"],
    &["EVAL", "return redis.call('incr', 'm')", "0"],
    &["EXEC"],
];

/// `redis.setresp(3)` and RESP3 values returned from a script, asked by a
/// RESP2 and then by a RESP3 client.
const RESP3_CASES: &[&[&str]] = &[
    &["HSET", "h", "f", "v", "g", "w"],
    &["SADD", "st", "a"],
    &["ZADD", "z", "1.5", "m"],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('hgetall', 'h')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) local r = redis.call('hgetall', 'h') return {type(r.map), r.map.f}",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('get', 'nosuch') == nil",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) local r = redis.call('zscore', 'z', 'm') return {type(r), r.double * 2}",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('zscore', 'z', 'm')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('smembers', 'st')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) local r = redis.call('smembers', 'st') return tostring(r.set.a)",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) redis.setresp(2) return redis.call('get', 'nosuch')",
        "0",
    ],
    &["EVAL", "redis.setresp(3) return true", "0"],
    &["EVAL", "redis.setresp(3) return false", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {double=3.5}", "0"],
    &[
        "EVAL",
        "return {big_number='123456789012345678901234567890'}",
        "0",
    ],
    &[
        "EVAL",
        "return {verbatim_string={format='txt', string='hi'}}",
        "0",
    ],
    &["EVAL", "return {map={a=1, b='two'}}", "0"],
    &["EVAL", "return {set={a=true, b=true}}", "0"],
    &["EVAL", "return {1, {map={x={double=0.5}}}}", "0"],
    &["EVAL", "redis.setresp()", "0"],
    &["EVAL", "redis.setresp(4)", "0"],
    &[
        "EVAL",
        "redis.setresp('3') return redis.call('zscore', 'z', 'm')",
        "0",
    ],
];

#[test]
fn resp3_in_scripts_replies_as_redis_does() {
    let run = |port: u16| -> Vec<Reply> {
        let mut c = Resp::connect(port);
        let mut out: Vec<Reply> = RESP3_CASES.iter().map(|args| c.q(args)).collect();
        c.q(&["HELLO", "3"]);
        out.extend(RESP3_CASES.iter().map(|args| c.q(args)));
        out
    };
    let want = {
        let r = RealRedis::start(&[]);
        run(r.port)
    };
    let n = Node::start(&[]);
    let got = run(n.port);
    let asked: Vec<String> = ["RESP2", "RESP3"]
        .iter()
        .flat_map(|p| RESP3_CASES.iter().map(move |a| format!("{p}: {a:?}")))
        .collect();
    for (i, what) in asked.iter().enumerate() {
        assert_eq!(got[i], want[i], "{what}");
    }
}

#[test]
fn scripts_reply_as_redis_does() {
    let run = |port: u16| -> Vec<Reply> {
        let mut c = Resp::connect(port);
        CASES.iter().map(|args| c.q(args)).collect()
    };
    let want = {
        let r = RealRedis::start(&[]);
        run(r.port)
    };
    let n = Node::start(&[]);
    let got = run(n.port);
    for (i, args) in CASES.iter().enumerate() {
        assert_eq!(got[i], want[i], "{args:?}");
    }
}

/// A script's writes are one transaction: a replica gets its effects (not
/// the script), a chain too, and a replica runs read-only scripts but
/// refuses writing ones.
#[test]
fn script_effects_replicate_and_replicas_refuse_writing_scripts() {
    let (m, rs) = replicated_group(1);
    let chained = Node::start(&[]);
    let mut cc = replicaof(&chained, &rs[0]);
    let mut c = Resp::connect(m.port);
    let body = "for i = 1, 100 do redis.call('rpush', KEYS[1], i) end \
                redis.call('hset', KEYS[2], 'f', redis.call('llen', KEYS[1])) \
                redis.call('incrbyfloat', KEYS[3], '1.5') \
                return redis.call('lrange', KEYS[1], -2, -1)";
    assert_eq!(
        c.q(&["EVAL", body, "3", "list", "hash", "float"]),
        bulks(&["99", "100"])
    );
    wait_synced(&rs[0], &m);
    wait_synced(&chained, &rs[0]);
    assert_eq!(digest_at(rs[0].port), digest_at(m.port));
    assert_eq!(digest_at(chained.port), digest_at(m.port));
    let _ = &mut cc;
    let mut r = Resp::connect(rs[0].port);
    assert_eq!(
        r.q(&["EVAL", "return redis.call('hget', 'hash', 'f')", "0"]),
        bulk("100")
    );
    assert_eq!(
        r.q(&["EVAL_RO", "return redis.call('llen', 'list')", "0"]),
        int(100)
    );
    let refused = r.q(&["EVAL", "return redis.call('set', 'x', '1')", "0"]);
    assert!(
        line(&refused).starts_with("READONLY You can't write against a read only replica."),
        "{refused:?}"
    );
    assert_eq!(r.q(&["GET", "x"]), Reply::Nil);
    // A shebang script that may write is refused before it runs; one that
    // says it does not write runs through plain EVAL.
    assert_eq!(
        r.q(&["EVAL", "#!lua\nreturn 1", "0"]),
        err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(
        r.q(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('llen', 'list')",
            "0"
        ]),
        int(100)
    );
}

/// A script is all or nothing for other clients: a reader never sees half
/// of it, and a write made before a failing line stays (as in Redis).
#[test]
fn a_script_is_atomic_and_survives_kill9() {
    let mut n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    let body = "redis.call('set', 'a', ARGV[1]) \
                for i = 1, 20000 do redis.call('incr', 'spin') end \
                redis.call('set', 'b', ARGV[1]) return 1";
    let port = n.port;
    let reader = std::thread::spawn(move || {
        let mut r = Resp::connect(port);
        let mut seen = 0;
        for _ in 0..300 {
            let got = r.q(&["MGET", "a", "b"]);
            let items = got.items().to_vec();
            assert_eq!(items[0], items[1], "a reader saw half a script");
            seen += 1;
        }
        seen
    });
    for i in 0..20 {
        assert_eq!(c.q(&["EVAL", body, "0", &i.to_string()]), int(1));
    }
    assert_eq!(reader.join().expect("reader"), 300);
    let failed = c.q(&["EVAL", "redis.call('set', 'kept', '1') error('late')", "0"]);
    assert!(failed.is_error(), "{failed:?}");
    n.kill9();
    n.launch();
    n.wait_ready().expect("restart");
    let mut c = Resp::connect(n.port);
    assert_eq!(c.q(&["MGET", "a", "b", "kept"]), bulks(&["19", "19", "1"]));
    assert_eq!(c.q(&["GET", "spin"]), bulk("400000"));
}

/// Past `busy-reply-threshold` other clients get BUSY; SCRIPT KILL stops a
/// script that has not written, and one that has is UNKILLABLE.
#[test]
fn a_busy_script_answers_busy_and_script_kill_stops_it() {
    let n = Node::start(&["busy-reply-threshold 100"]);
    let port = n.port;
    let runner = std::thread::spawn(move || {
        let mut c = Resp::connect(port);
        c.set_timeout(Duration::from_secs(60));
        c.q(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
    });
    let mut other = Resp::connect(n.port);
    let busy = wait_until(Duration::from_secs(20), || {
        line(&other.q(&["GET", "x"])).starts_with("BUSY ")
    });
    assert!(busy, "another client got BUSY");
    assert_eq!(
        other.q(&["SET", "x", "1"]),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    assert_eq!(other.q(&["SCRIPT", "KILL"]), ok());
    let killed = runner.join().expect("runner");
    assert!(
        line(&killed).starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed:?}"
    );
    assert_eq!(other.q(&["SET", "x", "1"]), ok());
    assert_eq!(
        other.q(&["SCRIPT", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );
    // A script that wrote cannot be killed (the node is killed at the end).
    std::thread::spawn(move || {
        let mut c = Resp::connect(port);
        c.q(&["EVAL", "redis.call('set', 'w', '1') while true do end", "0"])
    });
    let unkillable = wait_until(Duration::from_secs(20), || {
        line(&other.q(&["SCRIPT", "KILL"])).starts_with("UNKILLABLE ")
    });
    assert!(unkillable, "SCRIPT KILL of a script that wrote");
}

/// Scripts without a loop word run inline on the connection's thread
/// (`scripting::straight_line`); these loop all the same, by recursion or
/// by code compiled at run time, so they must still leave the thread:
/// another client gets BUSY and SCRIPT KILL stops each. A script wrongly
/// run inline would hold the thread, and `other` would time out.
#[test]
fn scripts_that_loop_without_a_loop_keyword_still_answer_busy() {
    let n = Node::start(&["busy-reply-threshold 100"]);
    let port = n.port;
    let mut other = Resp::connect(n.port);
    for body in [
        "local function f(i) return f(i + 1) end return f(1)",
        "return _G['load' .. 'string']('local i = 0 wh' .. 'ile true do i = i + 1 end')()",
    ] {
        let runner = std::thread::spawn(move || {
            let mut c = Resp::connect(port);
            c.set_timeout(Duration::from_secs(60));
            c.q(&["EVAL", body, "0"])
        });
        let busy = wait_until(Duration::from_secs(20), || {
            line(&other.q(&["GET", "x"])).starts_with("BUSY ")
        });
        assert!(busy, "another client got BUSY during {body}");
        assert_eq!(other.q(&["SCRIPT", "KILL"]), ok());
        let killed = runner.join().expect("runner");
        assert!(line(&killed).starts_with("ERR Script killed"), "{killed:?}");
    }
    // A script that writes many keys is one step for a reader pipelining
    // MGETs beside it: 50 SETs make a straight-line body run inline, 200
    // one past 4 KiB, handed to the blocking pool.
    let mut c = Resp::connect(n.port);
    for keys in [50, 200] {
        let body = (0..keys)
            .map(|i| format!("redis.call('set', 'k{i}', ARGV[1]) "))
            .collect::<String>()
            + "return redis.call('get', 'k0')";
        let reader = std::thread::spawn(move || {
            let mut r = Resp::connect(port);
            let args: Vec<String> = ["MGET".to_string()]
                .into_iter()
                .chain((0..keys).map(|i| format!("k{i}")))
                .collect();
            let args: Vec<&str> = args.iter().map(|k| k.as_str()).collect();
            for _ in 0..300 {
                let got = r.q(&args);
                let items = got.items().to_vec();
                assert!(
                    items.iter().all(|x| *x == items[0]),
                    "a reader saw half a script of {keys} SETs"
                );
            }
        });
        for i in 0..200 {
            let v = format!("{keys}-{i}");
            assert_eq!(c.q(&["EVAL", &body, "0", &v]), bulk(&v));
        }
        reader.join().expect("reader");
    }
}

/// redis-py's `Lock` takes, extends and releases itself with Lua scripts.
#[test]
fn redis_py_lock_works() {
    let n = Node::start(&[]);
    let script = r#"
import sys, redis
from redis.exceptions import LockError, LockNotOwnedError
r = redis.Redis(port=int(sys.argv[1]))
a = r.lock("resource", timeout=10)
b = r.lock("resource", timeout=10)
assert a.acquire(blocking=False)
assert not b.acquire(blocking=False), "a second lock got the resource"
assert a.owned()
assert a.extend(20)
assert 10 < r.pttl("resource") / 1000 <= 30
try:
    b.release()
    raise SystemExit("released a lock it does not own")
except (LockError, LockNotOwnedError):
    pass
a.release()
assert r.get("resource") is None
assert b.acquire(blocking=False)
assert a.locked()
b.reacquire()
b.release()
print("ok")
"#;
    let out = std::process::Command::new(python_with_redis())
        .arg("-c")
        .arg(script)
        .arg(n.port.to_string())
        .output()
        .expect("python3 with redis-py");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
