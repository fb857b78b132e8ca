package query_test

import (
	"strings"
	"testing"

	"github.com/countlab/countlab/engine/query"
)

// TestAttrErrors: the attribute endpoints' 4xx answers name the parameter;
// without InfluxDB a valid request is a 503 (never a silent empty answer).
func TestAttrErrors(t *testing.T) {
	_, _, base := serve(t, query.Types("VIEW"))
	for _, c := range []struct {
		path  string
		code  int
		param string
	}{
		{"/v1/attr/Channel/top?type=VIEW", 400, `"param":"attr"`},
		{"/v1/attr//top?type=VIEW", 400, `"param":"attr"`},
		{"/v1/attr/channel/top?type=view", 400, `"param":"type"`},
		{"/v1/attr/channel/top?type=VIEW&n=0", 400, `"param":"n"`},
		{"/v1/attr/channel/top?type=VIEW&filter=country:US", 400, `"param":"filter"`},
		{"/v1/attr/channel/stats/?type=VIEW", 400, `"param":"value"`},
		{"/v1/attr/channel/stats/c1?type=VIEW&fn=sum", 400, `"param":"fn"`},
		{"/v1/attr/channel/other?type=VIEW", 404, `"error"`},
		{"/v1/attr/channel/stats/c%201?type=VIEW", 503, "InfluxDB"},
		{"/v1/attr/channel/top?type=VIEW&n=5", 503, "InfluxDB"},
	} {
		code, body, _ := do(t, "GET", base+c.path, "")
		if code != c.code || !strings.Contains(body, c.param) {
			t.Errorf("%s: %d %s; want %d with %s", c.path, code, body, c.code, c.param)
		}
	}
}
