package influx

import "testing"

func TestFluxString(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := FluxString(in); got != want {
			t.Fatalf("FluxString(%q) = %s, want %s", in, got, want)
		}
	}
	f("countlab/autogen", `"countlab/autogen"`)
	f(`a"b`, `"a\"b"`)
	f(`a\b`, `"a\\b"`)
	f(`${x}`, `"\${x}"`)
	f(`$x {`, `"$x {"`)
	f(`") |> drop() //`, `"\") |> drop() //"`)
}
