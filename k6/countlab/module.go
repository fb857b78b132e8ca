// Package countlab is the k6 extension k6/x/countlab: countlab's seeded
// traffic generator, its two transports (the ingest gateway over HTTP and
// a franz-go producer straight to Kafka), the query client, and the
// ground-truth ledger, for k6 scripts.
//
//	import countlab from 'k6/x/countlab';
//	const gen = countlab.generator({ seed: 1, keys: 10000, zipf_s: 1.1, duplicates: 0.01 });
//	const gw = countlab.gateway({ url: __ENV.GATEWAY_URL });
//	export default function () { gw.post(gen.batch(100)); }
//	export function teardown() { countlab.writeLedger(__ENV.LEDGER); }
//
// Every VU has its own generator stream (seed + VU id, so runs are
// reproducible). Acknowledged events go into one process-wide ledger
// (sim/ledger), which writeLedger saves for `countlab check`.
//
// The extension registers itself with k6 in init, the one mechanism k6
// offers for extensions.
package countlab

import (
	"go.k6.io/k6/js/modules"
)

// ImportPath is the module's name in k6 scripts.
const ImportPath = "k6/x/countlab"

func init() {
	modules.Register(ImportPath, new(RootModule))
}

// RootModule is the global module; it makes one ModuleInstance per VU.
type RootModule struct{}

// ModuleInstance is the module of one VU.
type ModuleInstance struct {
	vu      modules.VU
	metrics *Metrics
}

var (
	_ modules.Module   = (*RootModule)(nil)
	_ modules.Instance = (*ModuleInstance)(nil)
)

// NewModuleInstance implements modules.Module: it registers the custom
// metrics (idempotent) and returns the VU's instance.
func (*RootModule) NewModuleInstance(vu modules.VU) modules.Instance {
	m, err := registerMetrics(vu.InitEnv().Registry)
	if err != nil {
		panic(vu.Runtime().NewGoError(err))
	}
	return &ModuleInstance{vu: vu, metrics: m}
}

// Exports implements modules.Instance.
func (mi *ModuleInstance) Exports() modules.Exports {
	return modules.Exports{Named: map[string]any{
		"generator":     mi.newGenerator,
		"kafkaProducer": mi.newKafkaProducer,
		"gateway":       mi.newGateway,
		"query":         mi.newQuery,
		"writeLedger":   mi.writeLedger,
		"ledgerStats":   mi.ledgerStats,
	}}
}
