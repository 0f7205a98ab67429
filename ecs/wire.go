package ecs

import "github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"

// The answers of DescribeInstances and DescribeInstanceAutoRenewAttribute, decoded into only
// the fields renewbot reads. They still go through the SDK client's DoAction (signing,
// transport, error answers, and its lenient JSON decoder: numbers sent as strings and the
// like), as the SDK's own response types do; but the SDK's ecs.Instance has some 80 fields,
// many of them nested structs, and allocating and filling them was most of the client's CPU
// in a scan (BenchmarkExpiringScan).

// instancesAnswer is a DescribeInstances answer.
type instancesAnswer struct {
	*responses.BaseResponse
	TotalCount int
	Instances  struct{ Instance []instanceAnswer }
}

// instanceAnswer is one instance of a DescribeInstances answer.
type instanceAnswer struct {
	InstanceId         string
	InstanceName       string
	RegionId           string
	ZoneId             string
	InstanceType       string
	InstanceChargeType string
	Status             string
	ExpiredTime        string
	Tags               struct {
		Tag []struct{ TagKey, TagValue, Key, Value string } // TagKey/TagValue; some answers use Key/Value
	}
	OperationLocks struct{ LockReason []struct{ LockReason string } }
}

// newInstancesAnswer has room for a full page: the SDK's decoder fills the capacity it finds
// and would otherwise grow the list from one instance, copying it each time it doubles.
func newInstancesAnswer() *instancesAnswer {
	a := &instancesAnswer{BaseResponse: &responses.BaseResponse{}}
	a.Instances.Instance = make([]instanceAnswer, 0, pageSize)
	return a
}

// autoRenewAnswer is a DescribeInstanceAutoRenewAttribute answer.
type autoRenewAnswer struct {
	*responses.BaseResponse
	InstanceRenewAttributes struct{ InstanceRenewAttribute []renewAttributeAnswer }
}

// renewAttributeAnswer is one instance of a DescribeInstanceAutoRenewAttribute answer.
type renewAttributeAnswer struct {
	InstanceId    string
	RenewalStatus string
	Duration      int
	PeriodUnit    string
}

func newAutoRenewAnswer() *autoRenewAnswer {
	a := &autoRenewAnswer{BaseResponse: &responses.BaseResponse{}}
	a.InstanceRenewAttributes.InstanceRenewAttribute = make([]renewAttributeAnswer, 0, batchSize)
	return a
}
