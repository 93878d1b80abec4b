import type { ProfileConfig } from '../../config/modbus-schema.js';

/**
 * The map every device gets unless it names another: 16 input registers of inference results
 * and health, the alarm bits as discrete inputs, and two command coils.
 */
export const DEFAULT_PROFILE: ProfileConfig = {
  fields: [
    { field: 'anomaly', table: 'input_register', address: 0, type: 'float32', writable: false },
    { field: 'confidence', table: 'input_register', address: 2, type: 'float32', writable: false },
    { field: 'label_index', table: 'input_register', address: 4, type: 'uint16', writable: false },
    { field: 'model_version_major', table: 'input_register', address: 5, type: 'uint16', writable: false },
    { field: 'model_version_minor', table: 'input_register', address: 6, type: 'uint16', writable: false },
    { field: 'model_version_patch', table: 'input_register', address: 7, type: 'uint16', writable: false },
    { field: 'seconds_since_last_seen', table: 'input_register', address: 8, type: 'uint32', writable: false },
    { field: 'seq', table: 'input_register', address: 10, type: 'uint32', writable: false },
    { field: 'alarm_count', table: 'input_register', address: 12, type: 'uint16', writable: false },
    { field: 'online', table: 'input_register', address: 13, type: 'uint16', writable: false },
    { field: 'events_total', table: 'input_register', address: 14, type: 'uint32', writable: false },
    { field: 'alarm', table: 'discrete_input', address: 0, type: 'bit', writable: false },
    { field: 'alarm_unacked', table: 'discrete_input', address: 1, type: 'bit', writable: false },
    { field: 'ack', table: 'coil', address: 0, type: 'bit', writable: true },
    { field: 'reset', table: 'coil', address: 1, type: 'bit', writable: true },
  ],
};
