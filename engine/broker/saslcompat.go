package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslHandshakeKey is the SaslHandshake request's API key.
const saslHandshakeKey = 17

// advertiseHandshakeV0 makes the broker's ApiVersions answers advertise
// SaslHandshake from version 0, as Kafka does; kfake advertises 1..1.
// librdkafka (kcat, and the clients built on it) refuses SASL SCRAM and
// PLAIN against a broker whose range does not include 0 ("SASL Handshake
// not supported by broker"), though it then sends version 1, which kfake
// serves. A client that really sends version 0 gets the error kfake gives
// today. The answer is kfake's own, fetched once through cl's connection,
// at the version each client asks for.
func advertiseHandshakeV0(ctx context.Context, c *kfake.Cluster, cl interface {
	Request(context.Context, kmsg.Request) (kmsg.Response, error)
}) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "countlab", "1"
	r, err := cl.Request(ctx, req)
	if err != nil {
		return fmt.Errorf("broker: ApiVersions: %w", err)
	}
	full := r.(*kmsg.ApiVersionsResponse)
	maxVersion := int16(-1)
	for i := range full.ApiKeys {
		switch full.ApiKeys[i].ApiKey {
		case saslHandshakeKey:
			full.ApiKeys[i].MinVersion = 0
		case 18:
			maxVersion = full.ApiKeys[i].MaxVersion
		}
	}
	c.ControlKey(18, func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ApiVersionsRequest)
		if req.Version > maxVersion {
			return nil, nil, false // kfake's UNSUPPORTED_VERSION answer
		}
		resp := *full
		resp.ApiKeys = append([]kmsg.ApiVersionsResponseApiKey(nil), full.ApiKeys...)
		resp.Version = req.Version
		return &resp, nil, true
	})
	return nil
}
