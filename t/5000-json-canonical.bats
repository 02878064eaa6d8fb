#!/usr/bin/env bats
# RFC 8785 canonical JSON (lib/json), the form bundles are stored in.

load test_helper

canon() { printf '%s' "$1" | test-json canon; }

@test "numbers: the IEEE 754 vectors published with RFC 8785" {
	run -0 test-json number 0000000000000000 8000000000000000 0000000000000001 \
		8000000000000001 7fefffffffffffff ffefffffffffffff 4340000000000000 \
		c340000000000000 4430000000000000 44b52d02c7e14af5 44b52d02c7e14af6 \
		44b52d02c7e14af7 444b1ae4d6e2ef4e 444b1ae4d6e2ef4f 444b1ae4d6e2ef50 \
		3eb0c6f7a0b5ed8c 3eb0c6f7a0b5ed8d 41b3de4355555553 41b3de4355555554 \
		41b3de4355555555 41b3de4355555556 41b3de4355555557 becbf647612f3696 \
		43143ff3c1cb0959
	assert_output "0
0
5e-324
-5e-324
1.7976931348623157e+308
-1.7976931348623157e+308
9007199254740992
-9007199254740992
295147905179352830000
9.999999999999997e+22
1e+23
1.0000000000000001e+23
999999999999999700000
999999999999999900000
1e+21
9.999999999999997e-7
0.000001
333333333.3333332
333333333.33333325
333333333.3333333
333333333.3333334
333333333.33333343
-0.0000033333333333333333
1424953923781206.2"
}

@test "numbers: 2,000 random doubles as ECMAScript writes them" {
	# The expected column was written by an ECMAScript engine's String(x).
	cut -d' ' -f1 "$FIXTURES/jcs-numbers.txt" | xargs test-json number > got
	cut -d' ' -f2 "$FIXTURES/jcs-numbers.txt" > want
	run -0 diff want got
}

@test "the example object of RFC 8785 section 3.2.2" {
	run -0 canon '{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'"'"'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}'
	assert_output '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'"'"'B\"\\\\\"/"}'
}

@test "members sort by UTF-16 code units (RFC 8785 section 3.2.3)" {
	run -0 canon '{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}'
	assert_output "$(printf '{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control","\xc3\xb6":"Latin Small Letter O With Diaeresis","\xe2\x82\xac":"Euro Sign","\xf0\x9f\x98\x80":"Emoji: Grinning Face","\xef\xac\xb3":"Hebrew Letter Dalet With Dagesh"}')"
}

@test "control characters are escaped, short forms first; NUL is kept" {
	run -0 canon '"\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f"'
	assert_output "$(printf '"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\x7f"')"
}

@test "integers print exactly up to 2^53 - 1; beyond, the path is named" {
	run -0 canon '[9007199254740991,-9007199254740991,0,-0,1.0,100e-2]'
	assert_output '[9007199254740991,-9007199254740991,0,0,1,1]'
	run -1 --separate-stderr canon '{"a":[1,{"b":9007199254740992}]}'
	assert_equal "$stderr" 'error: $.a[1].b: integer 9007199254740992 is beyond +-(2^53 - 1), which JSON numbers cannot keep exactly'
	run -1 --separate-stderr canon '{"a b":[-9007199254740992]}'
	assert_equal "$stderr" 'error: $["a b"][0]: integer -9007199254740992 is beyond +-(2^53 - 1), which JSON numbers cannot keep exactly'
}

@test "a fraction or exponent with an integer value beyond 2^53 - 1 is refused: its canonical digits would not read back" {
	# 1e20 is written 100000000000000000000 (RFC 8785), an integer beyond
	# what the parser reads; 1e21 and up keep their exponent.
	run -1 --separate-stderr canon '{"a":[1e20]}'
	assert_equal "$stderr" 'error: $.a[0]: number 100000000000000000000 is an integer beyond +-(2^53 - 1), which JSON numbers cannot keep exactly'
	run -1 --separate-stderr canon '[-9007199254740992.0]'
	assert_equal "$stderr" 'error: $[0]: number -9007199254740992 is an integer beyond +-(2^53 - 1), which JSON numbers cannot keep exactly'
	run -1 --separate-stderr canon '[1.5e20]'
	assert_equal "$stderr" 'error: $[0]: number 150000000000000000000 is an integer beyond +-(2^53 - 1), which JSON numbers cannot keep exactly'
	run -0 canon '[9007199254740991.0,-9.007199254740991e15,1e21,-1.5e300,0.5]'
	assert_output '[9007199254740991,-9007199254740991,1e+21,-1.5e+300,0.5]'
}

@test "the parser refuses duplicate keys, bad UTF-8, lone surrogates and overflow" {
	run -1 --separate-stderr canon '{"a":1,"a":2}'
	assert_equal "$stderr" 'error at 9: duplicate object key'
	run -1 --separate-stderr canon "$(printf '["\xff"]')"
	assert_equal "$stderr" 'error at 2: invalid UTF-8'
	run -1 --separate-stderr canon '["\ud800"]'
	assert_equal "$stderr" 'error at 8: lone or invalid UTF-16 surrogate in a \u escape'
	run -1 --separate-stderr canon '[1e400]'
	assert_equal "$stderr" 'error at 5: number out of range'
	run -1 --separate-stderr canon '[123456789012345678901234]'
	assert_equal "$stderr" 'error at 24: number out of range'
}

@test "nesting: 128 levels are accepted, 129 refused" {
	ok=$(printf '%.0s[' $(seq 128); printf '%.0s]' $(seq 128))
	run -0 canon "$ok"
	assert_output "$ok"
	run -1 --separate-stderr canon "[$ok]"
	assert_equal "$stderr" 'error at 128: nested too deeply'
}
