package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
)

// PathMetadata takes entity metadata records (engine/enrich).
const PathMetadata = "/v1/metadata"

// MetadataTopic is the topic POST /v1/metadata produces to (default
// enrich.DefaultTopic, "metadata").
func MetadataTopic(name string) Opt { return opt(func(c *cfg) { c.metadataTopic = name }) }

// MetadataResponse is the answer to an accepted POST /v1/metadata.
type MetadataResponse struct {
	// Accepted is the number of records stored (acknowledged by Kafka).
	Accepted int `json:"accepted"`
}

// serveMetadata handles POST /v1/metadata: a JSON record or array of
// records (enrich.ParseRecords). The batch is validated whole first: one
// invalid record answers 400 naming it, and nothing is produced. Valid
// records are produced to the metadata topic (key ENTITY@EFFECTIVE_MS,
// value the canonical JSON, timestamp the receive time) and the answer
// waits for Kafka: 200 only when every record is stored, 503 otherwise
// (re-sending is safe: the same version is written again under the same
// key).
func (g *Gateway) serveMetadata(w http.ResponseWriter, r *http.Request) {
	ref := time.Now()
	if !g.authorized(w, r) {
		return
	}
	b := g.bufs.Get().(*batch)
	defer g.putBatch(b)
	if berr := g.readBody(w, r, b); berr != nil {
		writeError(w, berr.code, berr.msg)
		return
	}
	recs, err := enrich.ParseRecords(b.body.Bytes())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(recs) > g.cfg.maxBatch {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("batch has %d metadata records, more than the limit of %d per request (max batch); split it", len(recs), g.cfg.maxBatch))
		return
	}
	if len(recs) == 0 {
		writeJSON(w, http.StatusOK, MetadataResponse{})
		return
	}
	kr := make([]*kgo.Record, len(recs))
	for i := range recs {
		v, err := recs[i].MarshalJSON()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encoding a record failed")
			return
		}
		kr[i] = &kgo.Record{Topic: g.cfg.metadataTopic, Key: recs[i].RecordKey(), Value: v, Timestamp: ref}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.produceTimeout)
	defer cancel()
	if err := g.cl.ProduceSync(ctx, kr...).FirstErr(); err != nil {
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, "metadata not stored (Kafka: "+err.Error()+"); retry: re-sending is safe")
		return
	}
	writeJSON(w, http.StatusOK, MetadataResponse{Accepted: len(recs)})
}
