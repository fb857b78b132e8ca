package event_test

import (
	"errors"
	"fmt"

	"github.com/countlab/countlab/engine/event"
)

func ExampleDecode() {
	v, _ := event.NewValidator()
	var e event.Event
	for _, value := range [][]byte{
		[]byte(`{"id":"e-1","key":"video-42","type":"VIEW","ts":"2026-11-23T15:21:17Z","dims":{"country":"US"}}`),
		event.AppendProto(nil, &event.Event{ID: "e-2", Key: "video-42", Type: "LIKE", Value: 1, TS: 1795447277000}),
		[]byte(`{"id":"e-3","key":"video-42","type":"VIEW","ts":"yesterday"}`),
		[]byte(`{"id":"e-4","key":"video-42","type":"PURCHASE","ts":1795447277000}`),
	} {
		format, err := event.Decode(value, &e)
		if err == nil {
			err = v.Validate(&e)
		}
		var bad *event.Error
		if errors.As(err, &bad) {
			fmt.Printf("%s: dead letter, field %s: %s\n", format, bad.Field, err)
			continue
		}
		fmt.Printf("%s: %s %s %s %s dims=%q\n", format, e.ID, e.Key, e.Type, e.Time().Format("15:04:05"), e.DimSet())
	}
	// Output:
	// json: e-1 video-42 VIEW 15:21:17 dims="country=US"
	// proto: e-2 video-42 LIKE 15:21:17 dims=""
	// json: dead letter, field ts: ts: not RFC3339 or unix milliseconds: want "2026-11-23T15:21:17.123Z" or 1795447277123, got "yesterday"
	// json: dead letter, field type: type: "PURCHASE" is not an accepted type; want one of VIEW, LIKE, SHARE, CLICK, IMPRESSION, VISIT
}

func ExampleDecodeJSONBatch() {
	body := []byte(`[
		{"id":"a","key":"ad-1","type":"CLICK","ts":1795447277000},
		{"id":"b","key":"ad-1","type":"CLICK","ts":1795447277000,"colour":"red"},
		42
	]`)
	err := event.DecodeJSONBatch(body, func(i int, raw []byte, e *event.Event, err error) {
		if err != nil {
			fmt.Printf("%d: reject %s: %v\n", i, raw, err)
			return
		}
		fmt.Printf("%d: accept %s\n", i, e.ID)
	})
	fmt.Println("batch error:", err)
	// Output:
	// 0: accept a
	// 1: reject {"id":"b","key":"ad-1","type":"CLICK","ts":1795447277000,"colour":"red"}: colour: unknown field (the fields are id, key, type, value, ts, dims)
	// 2: reject 42: event: must be a JSON object, got '4' at byte 141
	// batch error: <nil>
}
