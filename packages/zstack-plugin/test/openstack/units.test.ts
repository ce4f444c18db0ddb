/**
 * The OpenStack adapter's pure parts, no peers: the Horizon metadata definitions
 * (schema-checked the way Glance checks a namespace), nova's versioned notification
 * envelope, oslo's boolean words, Masakari's decision on the metadata the adapter writes,
 * and the `OS_*` credentials.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  boolFromString,
  credentialsFromEnv,
  FT_EPOCH_METADATA_KEY,
  FT_FLAVOR_SPEC,
  FT_METADATA_KEY,
  foldStatus,
  hintOf,
  MASAKARI_DEFAULTS,
  masakariRecovers,
  OpenStackError,
  openstackBackupName,
  parseOsloMessage,
  statusMetadata,
} from '../../src/iaas/openstack/index.js';

const metadef = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../metadefs/${name}`, import.meta.url), 'utf8')) as {
    namespace: string;
    resource_type_associations: { name: string; prefix?: string; properties_target?: string }[];
    properties: Record<string, { type: string; title: string; minimum?: number; maximum?: number }>;
  };

/**
 * What Glance accepts as a metadata definition namespace (the rules of the schema it
 * serves at GET /v2/schemas/metadefs/namespace, Glance api-ref): `namespace` required, at
 * most 80 characters; display_name 80, description 500; visibility public|private;
 * resource type associations of name/prefix/properties_target; every property with a
 * `title` and a JSON-schema `type`; nothing else at the top level.
 */
const GLANCE_NAMESPACE = {
  type: 'object',
  additionalProperties: false,
  required: ['namespace'],
  properties: {
    namespace: { type: 'string', maxLength: 80 },
    display_name: { type: 'string', maxLength: 80 },
    description: { type: 'string', maxLength: 500 },
    visibility: { enum: ['public', 'private'] },
    protected: { type: 'boolean' },
    owner: { type: 'string', maxLength: 255 },
    resource_type_associations: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          prefix: { type: 'string' },
          properties_target: { type: 'string' },
        },
      },
    },
    properties: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['title', 'type'],
        properties: {
          title: { type: 'string' },
          description: { type: 'string' },
          type: { enum: ['array', 'boolean', 'integer', 'number', 'object', 'string', null] },
          minimum: { type: 'number' },
          maximum: { type: 'number' },
          readonly: { type: 'boolean' },
          default: {},
        },
      },
    },
    objects: { type: 'array' },
    tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
  },
};

describe('Horizon: the FT checkbox as Glance metadata definitions (no code)', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(GLANCE_NAMESPACE);

  it('both namespaces are valid Glance namespaces', () => {
    for (const f of ['cuju-ft-server.json', 'cuju-ft-flavor.json']) {
      const ok = validate(metadef(f));
      expect(validate.errors ?? [], f).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it("the server namespace gives Launch Instance's Metadata step a checkbox that becomes metadata cuju_ft", () => {
    const ns = metadef('cuju-ft-server.json');
    // Horizon's launch-instance model asks for OS::Nova::Server with properties_target
    // "metadata"; its metadata tree renders a boolean property as <input type="checkbox">.
    expect(ns.resource_type_associations).toContainEqual({
      name: 'OS::Nova::Server',
      properties_target: 'metadata',
    });
    expect(ns.properties[FT_METADATA_KEY]?.type).toBe('boolean');
    expect(ns.properties[FT_EPOCH_METADATA_KEY]).toMatchObject({
      type: 'integer',
      minimum: 1000,
      maximum: 1_000_000,
    });
  });

  it('the flavor namespace, with its prefix, is exactly the extra spec the adapter checks', () => {
    const ns = metadef('cuju-ft-flavor.json');
    const assoc = ns.resource_type_associations.find((a) => a.name === 'OS::Nova::Flavor');
    const [prop] = Object.keys(ns.properties);
    expect(`${assoc?.prefix ?? ''}${prop}`).toBe(FT_FLAVOR_SPEC);
    expect(ns.properties[prop!]?.type).toBe('boolean');
  });

  it('the schema check is not a formality: a property without a title, a long namespace fail', () => {
    const ns = metadef('cuju-ft-server.json');
    expect(validate({ ...ns, namespace: 'x'.repeat(81) })).toBe(false);
    expect(validate({ ...ns, properties: { cuju_ft: { type: 'boolean' } } })).toBe(false);
    expect(validate({ ...ns, properties: { cuju_ft: { type: 'checkbox', title: 'x' } } })).toBe(false);
  });
});

/** nova's doc/notification_samples/instance-create-end.json, trimmed, in the messagingv2 envelope. */
function createEnd(metadata: Record<string, string>) {
  const message = {
    message_id: '0b0d3f2c-7f0e-4c76-a1a9-d5b0c2d2b7a1',
    publisher_id: 'nova-compute:compute',
    event_type: 'instance.create.end',
    priority: 'INFO',
    timestamp: '2026-12-03 07:00:00.000000',
    payload: {
      'nova_object.name': 'InstanceCreatePayload',
      'nova_object.namespace': 'nova',
      'nova_object.version': '1.12',
      'nova_object.data': {
        uuid: '178b0921-8f85-4257-88b6-2e743b5a975c',
        host: 'compute',
        node: 'fake-mini',
        state: 'active',
        power_state: 'running',
        metadata,
        flavor: {
          'nova_object.name': 'FlavorPayload',
          'nova_object.data': {
            flavorid: 'a22d5517-147c-4147-a0d1-e698df5cd4e3',
            extra_specs: { 'cuju:ft': 'true' },
          },
        },
      },
    },
  };
  return JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(message) });
}

describe('versioned notifications', () => {
  it('instance.create.end of a ticked server is a vm-changed hint with its uuid', () => {
    const n = parseOsloMessage(createEnd({ cuju_ft: 'true' }));
    expect(n.event_type).toBe('instance.create.end');
    expect(hintOf(n)).toEqual({ kind: 'vm-changed', iaasId: '178b0921-8f85-4257-88b6-2e743b5a975c' });
  });

  it('an unticked server says nothing; one with a status (ticked before) does', () => {
    expect(hintOf(parseOsloMessage(createEnd({})))).toBeUndefined();
    expect(hintOf(parseOsloMessage(createEnd({ cuju_ft_status: 'protected' })))).toMatchObject({
      kind: 'vm-changed',
    });
  });

  it('the v1 (messaging driver) form without the envelope is read too', () => {
    const inner = JSON.parse(JSON.parse(createEnd({ cuju_ft: '1' }))['oslo.message']);
    expect(hintOf(parseOsloMessage(JSON.stringify(inner)))).toMatchObject({ kind: 'vm-changed' });
  });

  it('a forced-down nova-compute is a host-down hint', () => {
    const n = {
      message_id: 'm',
      publisher_id: 'nova-api:api',
      event_type: 'service.update',
      priority: 'INFO',
      timestamp: 't',
      payload: {
        'nova_object.name': 'ServiceStatusPayload',
        'nova_object.data': { host: 'compute-2', binary: 'nova-compute', forced_down: true, disabled: false },
      },
    };
    expect(hintOf(parseOsloMessage(JSON.stringify(n)))).toEqual({ kind: 'host-down', host: 'compute-2' });
  });

  it('bad messages are typed errors naming the field', () => {
    const bad = (body: string) => {
      try {
        parseOsloMessage(body);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(bad('not json')).toMatchObject({
      code: 'FTS_IAAS',
      reason: 'bad-response',
      field: 'notification',
    });
    expect(bad('{"oslo.version":"2.0","oslo.message":"{"}')).toMatchObject({
      field: 'notification.oslo.message',
    });
    expect(bad('{"event_type":"x"}')).toBeInstanceOf(OpenStackError);
    const noUuid = JSON.parse(JSON.parse(createEnd({}))['oslo.message']);
    delete noUuid.payload['nova_object.data'].uuid;
    expect(() => hintOf(parseOsloMessage(JSON.stringify(noUuid)))).toThrow(
      /payload\.nova_object\.data\.uuid/,
    );
  });
});

describe('metadata words', () => {
  it("booleans as oslo's bool_from_string reads them", () => {
    for (const v of ['true', 'True', 'TRUE', '1', 't', 'on', 'yes', 'y', ' true '])
      expect(boolFromString(v), v).toBe(true);
    for (const v of ['false', 'False', '0', '', 'no', 'enabled', undefined])
      expect(boolFromString(v), String(v)).toBe(false);
  });

  it('the status as metadata items, within nova limits', () => {
    const m = statusMetadata({
      vmId: 'openstack-x',
      state: 'not-protected',
      reason: 'no-backup-host',
      primaryHost: 'sim-a',
      figures: {},
      lastChangeAt: new Date().toISOString(),
      observedGeneration: 1,
    });
    expect(m).toEqual({
      cuju_ft_status: 'not-protected',
      cuju_ft_reason: 'no-backup-host',
      cuju_ft_primary_host: 'sim-a',
      cuju_ft_secondary_host: '',
    });
    for (const [k, v] of Object.entries(m)) {
      expect(k).toMatch(/^[a-zA-Z0-9-_:. ]{1,255}$/);
      expect(v.length).toBeLessThanOrEqual(255);
    }
  });

  it("nova's statuses fold into running, stopped, deleted", () => {
    expect(foldStatus('ACTIVE')).toBe('running');
    for (const s of ['SHUTOFF', 'PAUSED', 'SUSPENDED', 'BUILD', 'ERROR', 'SHELVED_OFFLOADED'])
      expect(foldStatus(s)).toBe('stopped');
    expect(foldStatus('DELETED')).toBe('deleted');
    expect(foldStatus('SOFT_DELETED')).toBe('deleted');
  });

  it('backup domains are cuju-bk-<server uuid>, only for this adapter', () => {
    expect(openstackBackupName('openstack-178b0921-8f85-4257-88b6-2e743b5a975c')).toBe(
      'cuju-bk-178b0921-8f85-4257-88b6-2e743b5a975c',
    );
    expect(openstackBackupName('zstack-abc')).toBeUndefined();
  });
});

describe('Masakari reads the metadata the adapter writes', () => {
  const ft = { cuju_ft: 'true', HA_Enabled: 'False' };
  it('instance failure: not recovered (process_all_instances is False by default)', () => {
    expect(masakariRecovers(ft, 'instance')).toBe(false);
    expect(masakariRecovers({ HA_Enabled: 'True' }, 'instance')).toBe(true);
  });
  it('host failure: not evacuated once evacuate_all_instances=False; with the default True it would be', () => {
    expect(masakariRecovers(ft, 'host', { ...MASAKARI_DEFAULTS, evacuateAllInstances: false })).toBe(false);
    expect(masakariRecovers(ft, 'host')).toBe(true);
  });
  it('a custom ha_enabled_instance_metadata_key is honoured', () => {
    const conf = { ...MASAKARI_DEFAULTS, evacuateAllInstances: false, haKey: 'Ensure-My-HA' };
    expect(masakariRecovers({ 'Ensure-My-HA': 'yes' }, 'host', conf)).toBe(true);
    expect(masakariRecovers({ 'Ensure-My-HA': 'False', HA_Enabled: 'True' }, 'host', conf)).toBe(false);
  });
});

describe('OS_* credentials', () => {
  it('none without OS_AUTH_URL; all fields with an openrc', () => {
    expect(credentialsFromEnv({})).toBeUndefined();
    expect(
      credentialsFromEnv({
        OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
        OS_USERNAME: 'admin',
        OS_PASSWORD: 'pw',
        OS_PROJECT_NAME: 'admin',
        OS_REGION_NAME: 'RegionOne',
        OS_INTERFACE: 'internal',
      }),
    ).toEqual({
      authUrl: 'http://127.0.0.1:5000/v3',
      username: 'admin',
      password: 'pw',
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
      interface: 'internal',
    });
  });
  it('a missing variable or a bad interface is FTS_CONFIG naming it', () => {
    expect(() =>
      credentialsFromEnv({ OS_AUTH_URL: 'http://x/v3', OS_USERNAME: 'a', OS_PROJECT_NAME: 'p' }),
    ).toThrow(expect.objectContaining({ code: 'FTS_CONFIG', field: 'OS_PASSWORD' }));
    expect(() =>
      credentialsFromEnv({
        OS_AUTH_URL: 'http://x/v3',
        OS_USERNAME: 'a',
        OS_PASSWORD: 'b',
        OS_PROJECT_NAME: 'p',
        OS_INTERFACE: 'x',
      }),
    ).toThrow(expect.objectContaining({ field: 'OS_INTERFACE' }));
  });
});
