package main

import (
	"context"
	"errors"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/kafka"
)

// connectTimeout bounds connect's login check.
const connectTimeout = 10 * time.Second

// connect is conn and a login check: when the brokers answer but refuse
// the client (a wrong SASL user or password, a TLS certificate or
// handshake; kafka.ErrRefused) it is a usage error (exit 2) naming the
// flags to check, before the command starts anything. Brokers that do not
// answer (yet) are left to the client's own retries, as before.
func (f *kafkaFlags) connect(ctx context.Context) (kafka.Conn, error) {
	c, err := f.conn()
	if err != nil {
		return kafka.Conn{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := c.Ping(pctx); errors.Is(err, kafka.ErrRefused) {
		return kafka.Conn{}, usageError{Err: err}
	}
	return c, nil
}

// connect is config and a login check: InfluxDB refusing the credentials
// (influxd.ErrUnauthorized) is a usage error (exit 2) naming the flags; a
// server that does not answer (yet) is left to the client's retries.
func (f *influxFlags) connect(ctx context.Context) (influx.Config, error) {
	c, err := f.config()
	if err != nil {
		return influx.Config{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := influxd.Ping(pctx, c); errors.Is(err, influxd.ErrUnauthorized) {
		return influx.Config{}, usageError{Err: err}
	}
	return c, nil
}
