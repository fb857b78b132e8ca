// Package enrichtest holds the end-to-end test of the attribute roll-up
// (engine/enrich): real kfake broker, real influxd, engine workers as
// processes (one SIGKILLed during metadata updates), the gateway's
// metadata endpoint, the attribute sink and the query service, checked
// exactly against sim/oracle's own implementation of the temporal join.
package enrichtest
