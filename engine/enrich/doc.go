// Package enrich is the engine's enrichment: entity attributes (a video's
// channel and title, an ad's campaign) arrive as versioned metadata records
// on a compacted Kafka topic, each engine worker keeps them in an embedded
// on-disk store (bbolt), and the aggregator rolls its window totals up by
// attribute value (views per channel) when the windows close.
//
// Metadata. A metadata record (Record) names an entity (the counted key of
// its events), the time its attributes take effect, and the attributes.
// Versions are kept by (entity, effective time): a record with a later
// effective time is a new version, one with the same effective time
// replaces it (the later in the topic's log wins). The record key on the
// metadata topic is "ENTITY@EFFECTIVE_MS" (RecordKey), so compaction keeps
// every version and drops only a version re-sent under the same key.
//
// The temporal join, at window granularity. A key's window [start, end) is
// enriched with the attributes of the entity's last version whose
// effective time is before end (the attributes as they stood at the
// window's last millisecond). A key without such a version, or whose
// version lacks the attribute, counts under Unknown. The attribute total of
// (attribute, value, type, window) is the merge of the key totals of the
// window attributed to value: so the per-value totals of a window always
// add up to the per-key totals, and each is a function of the events and
// the metadata alone.
//
// Determinism. The aggregator computes a window's attribute totals once,
// when the window closes (the watermark passed its end plus the allowed
// lateness), in the Kafka transaction that writes the window's Closed key
// totals; before it closes windows it catches its store up with the
// metadata topic (Follower.CatchUp: everything committed on the topic at
// that moment is applied). A version that takes effect before a window's
// end therefore attributes the window whenever it was produced before the
// window closed, which for the gateway's records (record timestamp =
// receive time) holds when its effective time is no earlier than its
// receive time minus the allowed lateness: the window's close needs a
// watermark past end + lateness, i.e. events received after it. A replay
// after a crash or an aborted transaction closes the same windows against
// a store holding at least the same versions: the same answer. A version
// applied after a window it covers has closed does not change that
// window; it is counted (countlab_engine_metadata_late_total) and logged,
// never silent.
//
// The store is a cache of the topic: it holds the consumed offsets of the
// metadata partitions in the same bbolt transaction as the versions they
// brought, resumes from them after a restart, and is rebuilt from the
// start of the topic when it is missing or unreadable.
package enrich
