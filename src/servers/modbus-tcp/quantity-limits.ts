import { createRequire } from 'node:module';

type Reply = (err: { modbusErrorCode: number; msg: string } | null, response?: Buffer) => void;
type Handler = (request: Buffer, vector: unknown, unitId: number, reply: Reply, ...rest: unknown[]) => void;

/** Modbus Application Protocol V1.1b3, 6.1–6.4: quantities a read may ask for. */
const LIMITS: Record<string, number> = {
  readCoilsOrInputDiscretes: 2000,
  readMultipleRegisters: 125,
  readInputRegisters: 125,
};

let installed = false;

/**
 * modbus-serial sizes its response from the requested quantity before it asks our vector, so a
 * read of 128+ registers fails inside the library with exception 04 and quantity 0 gets 02. The
 * spec says 03 for both: wrap its request handlers (which its server looks up on each request) to
 * answer 03 first. Installed once per process.
 */
export function enforceQuantityLimits(): void {
  if (installed) return;
  const handlers = createRequire(import.meta.url)('modbus-serial/servers/servertcp_handler') as Record<string, Handler>;
  for (const [name, max] of Object.entries(LIMITS)) {
    const original = handlers[name];
    if (!original) throw new Error(`modbus-serial has no handler '${name}': check the quantity-limit shim`);
    handlers[name] = (request, vector, unitId, reply, ...rest) => {
      const quantity = request.readUInt16BE(4);
      if (quantity < 1 || quantity > max) return reply({ modbusErrorCode: 0x03, msg: `quantity ${quantity} outside 1..${max}` });
      original(request, vector, unitId, reply, ...rest);
    };
  }
  installed = true;
}
