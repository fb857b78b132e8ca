package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConnNewClient(t *testing.T) {
	if _, err := (Conn{}).NewClient(); err == nil {
		t.Fatal("no brokers: want an error")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := Conn{Brokers: c.ListenAddrs()}.NewClient(kgo.ClientID("conn-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("ping the real broker: %v", err)
	}
	if got := cl.OptValue(kgo.ClientID); got != "conn-test" {
		t.Errorf("extra option lost: client id %v", got)
	}
}
