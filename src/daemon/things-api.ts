import type { DeviceStateStore } from '../state/device-state.js';

/** What a Thing Description says about a model beyond its name and version (from `models:` in the config). */
export interface ModelInfo {
  name: string;
  version?: string;
  description?: string;
  ramKiB?: number;
  flashKiB?: number;
}

export interface ThingsContext {
  gatewayId: string;
  /** Where clients reach the gateway, from the request's Host: `http://host:8080`. */
  httpBase: string;
  mqttBase: string;
  models: ModelInfo[];
  labelsOf(device: string): string[];
}

const json = 'application/json';

/**
 * A W3C WoT Thing Description (TD 1.1) of one device: its inference results as observable
 * properties (HTTP read, MQTT observe), its alarms as an event, its model as metadata.
 */
export function thingDescription(id: string, store: DeviceStateStore, ctx: ThingsContext): Record<string, unknown> {
  const d = store.get(id);
  const labels = ctx.labelsOf(id);
  const read = (field: string) => ({
    href: `${ctx.httpBase}/devices/${encodeURIComponent(id)}#${field}`,
    contentType: json,
    op: ['readproperty'],
  });
  const observe = {
    href: `${ctx.mqttBase}/tinyml/${id}/event`,
    contentType: json,
    op: ['observeproperty'],
    'mqv:controlPacket': 'subscribe',
  };
  const property = (field: string, schema: Record<string, unknown>, description: string) => ({
    title: field,
    description,
    ...schema,
    readOnly: true,
    observable: true,
    forms: [read(field), observe],
  });
  const model = d?.model;
  const info =
    model &&
    (ctx.models.find((m) => m.name === model.name && m.version === model.version) ??
      ctx.models.find((m) => m.name === model.name && !m.version));
  return {
    '@context': ['https://www.w3.org/2022/wot/td/v1.1', { tinyml: 'urn:tinyml-gateway#', mqv: 'http://www.example.org/mqtt-binding#' }],
    '@type': 'Thing',
    id: `urn:tinyml-gateway:${ctx.gatewayId}:device:${id}`,
    title: id,
    description: `TinyML device ${id}, as seen by gateway ${ctx.gatewayId}`,
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: ['nosec_sc'],
    properties: {
      label: property(
        'label',
        labels.length > 0 ? { type: 'string', enum: labels } : { type: 'string' },
        'The predicted class of the latest inference',
      ),
      scores: property(
        'scores',
        { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } },
        'Class label → score',
      ),
      anomaly: property('anomaly', { type: 'number', minimum: 0 }, 'Anomaly score of the latest inference (higher is more anomalous)'),
      online: {
        title: 'online',
        description: 'Heard from within the offline timeout',
        type: 'boolean',
        readOnly: true,
        forms: [read('online')],
      },
    },
    events: {
      alarm: {
        title: 'alarm',
        description: 'Alarm transitions of the rules on this device: raised, acknowledged, confirmed, cleared',
        data: {
          type: 'object',
          properties: {
            rule: { type: 'string' },
            state: { type: 'string', enum: ['raised', 'acknowledged', 'confirmed', 'cleared'] },
            severity: { type: 'integer', minimum: 1, maximum: 1000 },
            message: { type: 'string' },
            value: { type: 'number' },
          },
        },
        forms: [
          { href: `${ctx.mqttBase}/tinyml/${id}/alarm`, contentType: json, op: ['subscribeevent'], 'mqv:controlPacket': 'subscribe' },
        ],
      },
    },
    ...(model && {
      'tinyml:model': {
        name: model.name,
        version: model.version,
        ...(d?.modelSince !== undefined ? { since: new Date(d.modelSince).toISOString() } : {}),
        ...(info?.description ? { description: info.description } : {}),
        ...(info?.ramKiB !== undefined ? { ramKiB: info.ramKiB } : {}),
        ...(info?.flashKiB !== undefined ? { flashKiB: info.flashKiB } : {}),
      },
    }),
  };
}

/** GET /things (every device's TD) and GET /things/<id>. */
export function thingsRequest(path: string, store: DeviceStateStore, ctx: ThingsContext): { status: number; body: unknown } {
  if (path === '/things') return { status: 200, body: store.all().map((d) => thingDescription(d.id, store, ctx)) };
  const id = decodeURIComponent(path.slice('/things/'.length));
  return store.get(id) ? { status: 200, body: thingDescription(id, store, ctx) } : { status: 404, body: { error: `no device ${id}` } };
}
