'use strict';
// Runs the seed article's operations with Alibaba's Node client @alicloud/pop-core against
// ecssim and prints one JSON object of results on stdout. Used by TestConformanceNodePopCore
// (ecs/ecssim/conformance_node_test.go), which starts ecssim and checks the results.
//
//   node conformance.js ENDPOINT FROM TO RENEW_ID MODIFY_ID TOKEN
const RPCClient = require('@alicloud/pop-core').RPCClient;

const [endpoint, from, to, renewID, modifyID, token] = process.argv.slice(2);
const client = new RPCClient({
  accessKeyId: 'testid',
  accessKeySecret: 'testsecret',
  endpoint: endpoint,
  apiVersion: '2014-05-26',
});
const post = { method: 'POST', timeout: 10000 };

async function failure(fn) {
  try {
    await fn();
    return { code: '', status: 200 };
  } catch (err) {
    const status = err.entry && err.entry.response ? err.entry.response.statusCode : 0;
    return { code: err.code || String(err), status: status };
  }
}

async function main() {
  const out = {};
  const regions = await client.request('DescribeRegions', {}, post);
  out.regions = regions.Regions.Region.map((r) => r.RegionId);

  const filter = {
    InstanceChargeType: 'PrePaid',
    'Filter.1.Key': 'ExpiredStartTime', 'Filter.1.Value': from,
    'Filter.2.Key': 'ExpiredEndTime', 'Filter.2.Value': to,
  };
  out.pages = [];
  for (let page = 1; page < 10; page++) {
    const r = await client.request('DescribeInstances', Object.assign({ RegionId: 'cn-hangzhou', PageNumber: page, PageSize: 10 }, filter), post);
    out.pages.push(r.Instances.Instance.map((i) => i.InstanceId));
    if (page * r.PageSize >= r.TotalCount) break;
  }
  // GET, the client's default method, with NextToken paging.
  out.tokenPages = [];
  let next = '';
  for (let i = 0; i < 10; i++) {
    const params = Object.assign({ RegionId: 'cn-hangzhou', MaxResults: 10 }, filter);
    if (next) params.NextToken = next;
    const r = await client.request('DescribeInstances', params);
    out.tokenPages.push(r.Instances.Instance.map((i) => i.InstanceId));
    next = r.NextToken;
    if (!next) break;
  }

  const price = await client.request('DescribeRenewalPrice', {
    RegionId: 'cn-hangzhou', ResourceId: renewID, ResourceType: 'instance', Period: 1, PriceUnit: 'Month',
  }, post);
  out.price = { trade: price.PriceInfo.Price.TradePrice, currency: price.PriceInfo.Price.Currency };

  // RenewInstance has no RegionId parameter: the client sends only what it is given.
  const renew = { InstanceId: renewID, Period: 1, PeriodUnit: 'Month', ClientToken: token };
  out.orders = [];
  for (let i = 0; i < 2; i++) {
    const r = await client.request('RenewInstance', renew, post);
    out.orders.push(String(r.OrderId));
  }
  out.payg = await failure(() => client.request('RenewInstance', { InstanceId: 'i-payg', Period: 1, ClientToken: 'node-payg' }, post));
  out.unknown = await failure(() => client.request('RenewInstance', { InstanceId: 'i-nosuch', Period: 1, ClientToken: 'node-unknown' }, post));

  const attrs = await client.request('DescribeInstanceAutoRenewAttribute', { RegionId: 'cn-hangzhou', InstanceId: 'i-auto,i-not,i-conf01' }, post);
  out.autoRenew = {};
  for (const a of attrs.InstanceRenewAttributes.InstanceRenewAttribute) {
    out.autoRenew[a.InstanceId] = `${a.RenewalStatus}/${a.Duration}/${a.PeriodUnit}/${a.AutoRenewEnabled}`;
  }

  await client.request('ModifyInstanceAutoRenewAttribute', {
    RegionId: 'cn-hangzhou', InstanceId: modifyID, RenewalStatus: 'AutoRenewal', Duration: 6, PeriodUnit: 'Month',
  }, post);
  const back = await client.request('DescribeInstanceAutoRenewAttribute', { RegionId: 'cn-hangzhou', InstanceId: modifyID }, post);
  const a = back.InstanceRenewAttributes.InstanceRenewAttribute[0];
  out.readBack = `${a.RenewalStatus}/${a.Duration}`;

  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(`conformance.js: ${err.code || ''} ${err.stack || err}\n`);
  process.exit(1);
});
