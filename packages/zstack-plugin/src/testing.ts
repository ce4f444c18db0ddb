/**
 * `@cuju/zstack-plugin/testing`: test doubles shipped for users, for IaaS managers that
 * cannot run on a test machine. The ZStack fake follows the management node's documented
 * request and response shapes; the same contract tests run against it and, given
 * `ZSTACK_URL`, against a real management node. The nova fake follows the compute API
 * reference and checks tokens with a real Keystone; startKeystone and startRabbitMq run
 * Debian's Keystone and RabbitMQ on loopback (OS_AUTH_URL points the tests at a real cloud).
 */

export { type Keystone, keystoneAvailable, startKeystone } from './iaas/openstack/sim/keystone.js';
export {
  FAKE_MAX_MICROVERSION,
  type FakeComputeHost,
  NovaFake,
  type NovaFakeOptions,
} from './iaas/openstack/sim/nova-fake.js';
export { type RabbitMq, rabbitmqAvailable, startRabbitMq } from './iaas/openstack/sim/rabbitmq.js';
export {
  ZStackFake,
  type ZStackFakeFault,
  type ZStackFakeOptions,
  type ZStackFakeRequest,
} from './iaas/zstack/testing/fake.js';
