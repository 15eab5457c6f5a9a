package route53emu

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
)

// xmlns is the namespace of every Route 53 document.
const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

// timeFormat is ISO 8601 UTC with milliseconds, as Route 53 writes it.
const timeFormat = "2006-01-02T15:04:05.000Z"

func apiTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func writeXML(w http.ResponseWriter, status int, requestID string, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// Every response type is a plain struct of strings; failing to
		// encode one is a bug in this package.
		panic("route53emu: encoding response: " + err.Error())
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Requests.

type createHostedZoneRequest struct {
	XMLName          xml.Name          `xml:"CreateHostedZoneRequest"`
	Name             *string           `xml:"Name"`
	CallerReference  *string           `xml:"CallerReference"`
	HostedZoneConfig *hostedZoneConfig `xml:"HostedZoneConfig"`
	VPC              *struct {
		VPCRegion string `xml:"VPCRegion"`
		VPCId     string `xml:"VPCId"`
	} `xml:"VPC"`
	DelegationSetID *string `xml:"DelegationSetId"`
}

type hostedZoneConfig struct {
	Comment     string `xml:"Comment,omitempty"`
	PrivateZone bool   `xml:"PrivateZone"`
}

type changeResourceRecordSetsRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch *struct {
		Comment string       `xml:"Comment"`
		Changes []wireChange `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type wireChange struct {
	Action            *string        `xml:"Action"`
	ResourceRecordSet *wireRecordSet `xml:"ResourceRecordSet"`
}

type wireRecordSet struct {
	Name            *string `xml:"Name"`
	Type            *string `xml:"Type"`
	TTL             *string `xml:"TTL"`
	ResourceRecords *struct {
		Records []struct {
			Value *string `xml:"Value"`
		} `xml:"ResourceRecord"`
	} `xml:"ResourceRecords"`
	// Members the emulator does not serve; their presence is refused
	// rather than ignored.
	SetIdentifier           *string   `xml:"SetIdentifier"`
	Weight                  *string   `xml:"Weight"`
	Region                  *string   `xml:"Region"`
	GeoLocation             *struct{} `xml:"GeoLocation"`
	Failover                *string   `xml:"Failover"`
	MultiValueAnswer        *string   `xml:"MultiValueAnswer"`
	AliasTarget             *struct{} `xml:"AliasTarget"`
	HealthCheckID           *string   `xml:"HealthCheckId"`
	TrafficPolicyInstanceID *string   `xml:"TrafficPolicyInstanceId"`
	CidrRoutingConfig       *struct{} `xml:"CidrRoutingConfig"`
	GeoProximityLocation    *struct{} `xml:"GeoProximityLocation"`
}

type createKeySigningKeyRequest struct {
	XMLName                 xml.Name `xml:"CreateKeySigningKeyRequest"`
	CallerReference         *string  `xml:"CallerReference"`
	HostedZoneID            *string  `xml:"HostedZoneId"`
	KeyManagementServiceArn *string  `xml:"KeyManagementServiceArn"`
	Name                    *string  `xml:"Name"`
	Status                  *string  `xml:"Status"`
}

// Responses.

type wireChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type wireHostedZone struct {
	ID                     string           `xml:"Id"`
	Name                   string           `xml:"Name"`
	CallerReference        string           `xml:"CallerReference"`
	Config                 hostedZoneConfig `xml:"Config"`
	ResourceRecordSetCount int              `xml:"ResourceRecordSetCount"`
}

type wireDelegationSet struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type createHostedZoneResponse struct {
	XMLName       xml.Name          `xml:"CreateHostedZoneResponse"`
	Xmlns         string            `xml:"xmlns,attr"`
	HostedZone    wireHostedZone    `xml:"HostedZone"`
	ChangeInfo    wireChangeInfo    `xml:"ChangeInfo"`
	DelegationSet wireDelegationSet `xml:"DelegationSet"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name          `xml:"GetHostedZoneResponse"`
	Xmlns         string            `xml:"xmlns,attr"`
	HostedZone    wireHostedZone    `xml:"HostedZone"`
	DelegationSet wireDelegationSet `xml:"DelegationSet"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name         `xml:"ListHostedZonesResponse"`
	Xmlns       string           `xml:"xmlns,attr"`
	HostedZones []wireHostedZone `xml:"HostedZones>HostedZone"`
	Marker      string           `xml:"Marker"`
	IsTruncated bool             `xml:"IsTruncated"`
	NextMarker  string           `xml:"NextMarker,omitempty"`
	MaxItems    string           `xml:"MaxItems"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name         `xml:"ListHostedZonesByNameResponse"`
	Xmlns            string           `xml:"xmlns,attr"`
	HostedZones      []wireHostedZone `xml:"HostedZones>HostedZone"`
	DNSName          string           `xml:"DNSName,omitempty"`
	HostedZoneID     string           `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool             `xml:"IsTruncated"`
	NextDNSName      string           `xml:"NextDNSName,omitempty"`
	NextHostedZoneID string           `xml:"NextHostedZoneId,omitempty"`
	MaxItems         string           `xml:"MaxItems"`
}

type changeInfoResponse struct {
	XMLName    xml.Name
	Xmlns      string         `xml:"xmlns,attr"`
	ChangeInfo wireChangeInfo `xml:"ChangeInfo"`
}

func changeResponse(root string, c *change, now time.Time) changeInfoResponse {
	return changeInfoResponse{XMLName: xml.Name{Local: root}, Xmlns: xmlns, ChangeInfo: c.wire(now)}
}

type wireRRSet struct {
	Name            string   `xml:"Name"`
	Type            string   `xml:"Type"`
	TTL             uint32   `xml:"TTL"`
	ResourceRecords []wireRR `xml:"ResourceRecords>ResourceRecord"`
}

type wireRR struct {
	Value string `xml:"Value"`
}

type listResourceRecordSetsResponse struct {
	XMLName            xml.Name    `xml:"ListResourceRecordSetsResponse"`
	Xmlns              string      `xml:"xmlns,attr"`
	ResourceRecordSets []wireRRSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated        bool        `xml:"IsTruncated"`
	NextRecordName     string      `xml:"NextRecordName,omitempty"`
	NextRecordType     string      `xml:"NextRecordType,omitempty"`
	MaxItems           string      `xml:"MaxItems"`
}

type wireKSK struct {
	Name                     string `xml:"Name"`
	KmsArn                   string `xml:"KmsArn"`
	Flag                     int    `xml:"Flag"`
	SigningAlgorithmMnemonic string `xml:"SigningAlgorithmMnemonic"`
	SigningAlgorithmType     int    `xml:"SigningAlgorithmType"`
	DigestAlgorithmMnemonic  string `xml:"DigestAlgorithmMnemonic"`
	DigestAlgorithmType      int    `xml:"DigestAlgorithmType"`
	KeyTag                   int    `xml:"KeyTag"`
	DigestValue              string `xml:"DigestValue"`
	PublicKey                string `xml:"PublicKey"`
	DSRecord                 string `xml:"DSRecord"`
	DNSKEYRecord             string `xml:"DNSKEYRecord"`
	Status                   string `xml:"Status"`
	StatusMessage            string `xml:"StatusMessage,omitempty"`
	CreatedDate              string `xml:"CreatedDate"`
	LastModifiedDate         string `xml:"LastModifiedDate"`
}

type createKeySigningKeyResponse struct {
	XMLName       xml.Name       `xml:"CreateKeySigningKeyResponse"`
	Xmlns         string         `xml:"xmlns,attr"`
	ChangeInfo    wireChangeInfo `xml:"ChangeInfo"`
	KeySigningKey wireKSK        `xml:"KeySigningKey"`
}

type getDNSSECResponse struct {
	XMLName xml.Name `xml:"GetDNSSECResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Status  struct {
		ServeSignature string `xml:"ServeSignature"`
		StatusMessage  string `xml:"StatusMessage,omitempty"`
	} `xml:"Status"`
	KeySigningKeys []wireKSK `xml:"KeySigningKeys>member"`
}

type getChangeResponse struct {
	XMLName    xml.Name       `xml:"GetChangeResponse"`
	Xmlns      string         `xml:"xmlns,attr"`
	ChangeInfo wireChangeInfo `xml:"ChangeInfo"`
}
