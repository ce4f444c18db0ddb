/**
 * `@cuju/zstack-plugin/testing`: test doubles shipped for users, for IaaS managers that
 * cannot run on a test machine. The ZStack fake follows the management node's documented
 * request and response shapes; the same contract tests run against it and, given
 * `ZSTACK_URL`, against a real management node.
 */
export {
  ZStackFake,
  type ZStackFakeFault,
  type ZStackFakeOptions,
  type ZStackFakeRequest,
} from './iaas/zstack/testing/fake.js';
