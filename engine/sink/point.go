package sink

import (
	"strconv"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// Point is t as its InfluxDB point (schema in package influx): measurement
// window_total; tags key, type, win, dims and d_<name> (when t has
// dimensions), sub (when not 0); fields count (integer), sum, min, max;
// timestamp the window start. Writing it again overwrites: it is idempotent.
func Point(t *total.Total) *write.Point {
	p := write.NewPointWithMeasurement(influx.Measurement).
		AddTag(influx.TagKey, t.Key).
		AddTag(influx.TagType, t.Type).
		AddTag(influx.TagWindow, total.SizeName(t.Size))
	if t.DimSet != "" {
		p.AddTag(influx.TagDims, t.DimSet)
		for _, d := range total.ParseDimSet(t.DimSet) {
			p.AddTag(influx.DimTagPrefix+d[0], d[1])
		}
	}
	if t.Sub != 0 {
		p.AddTag(influx.TagSub, strconv.Itoa(t.Sub))
	}
	p.AddField(influx.FieldCount, t.Count).
		AddField(influx.FieldSum, t.Sum).
		AddField(influx.FieldMin, t.Min).
		AddField(influx.FieldMax, t.Max).
		SetTime(time.UnixMilli(t.Start))
	return p
}
