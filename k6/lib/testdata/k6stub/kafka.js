// Stub of xk6-kafka's k6/x/kafka.
export const produced = [];
export const SCHEMA_TYPE_STRING = 'STRING';
export class SchemaRegistry {
  serialize(o) {
    return o.data;
  }
}
export class Writer {
  constructor(cfg) {
    this.cfg = cfg;
  }
  produce(p) {
    produced.push(...p.messages);
  }
  close() {}
}
