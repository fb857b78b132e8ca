package run

import (
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// trafficTransport is the sender's transport to st for sc's routes
// (traffic.routes, or traffic.via and format): a gateway client per
// gateway route and one Kafka producer shared by the Kafka routes, in a
// sim.Mix when there are several. closeFn closes the producer.
func trafficTransport(st *stack.Stack, sc *scenarios.Scenario, token string) (tr sim.Transport, closeFn func(), err error) {
	var mix sim.Mix
	var producer *sim.Kafka
	closeFn = func() {
		if producer != nil {
			producer.Close()
		}
	}
	for _, r := range sc.Traffic.RouteList() {
		format, err := sim.ParseFormat(r.Format)
		if err != nil {
			closeFn()
			return nil, nil, harness.ConfigError{Err: err}
		}
		if r.Via != "kafka" {
			mix = append(mix, sim.NewGateway("http://"+st.GatewayAddr(), token, format, sc.Traffic.Connections))
			continue
		}
		if producer == nil {
			if producer, err = sim.NewKafka(st.Conn(), st.Topics().Events, format); err != nil {
				return nil, nil, err
			}
		}
		mix = append(mix, &sim.Kafka{Client: producer.Client, Topic: st.Topics().Events, Format: format, HotKeys: st.HotKeys()})
	}
	if len(mix) == 1 {
		return mix[0], closeFn, nil
	}
	return mix, closeFn, nil
}

// prefixed is hot with prefix before every key (nil for none).
func prefixed(hot map[string]int, prefix string) map[string]int {
	if len(hot) == 0 {
		return nil
	}
	out := make(map[string]int, len(hot))
	for k, n := range hot {
		out[prefix+k] = n
	}
	return out
}
