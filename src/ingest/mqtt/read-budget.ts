import type { Socket } from 'node:net';

/** How long one turn of the event loop may spend on MQTT input before the other sockets get theirs, ms. */
export const TURN_BUDGET_MS = 10;

/**
 * Bounds how long one turn of the event loop spends reading MQTT sockets. libuv reads a socket up
 * to 32 times (64 KiB each) when it is ready, and aedes parses and hands on each chunk as it comes,
 * so a publisher that keeps its socket full held one turn for 2.7 MB and 260 ms: `/health`, OPC UA
 * and Modbus answers and QoS 1 acknowledgements waited 0.5–1.3 s behind it. Once a turn has read
 * for `turnMs`, a socket's next read is put off to the next turn: its data stays in the socket,
 * whose buffer then fills and makes the kernel hold the publisher back (TCP flow control), and the
 * turn goes on to the other sockets and timers. Nothing is dropped and the order is kept.
 *
 * Only for sockets read the way aedes reads them (`read(null)` on `'readable'`).
 */
export class ReadBudget {
  private turnStart = -1;
  private readonly waiting = new Set<Socket>();

  constructor(
    private readonly turnMs = TURN_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  attach(socket: Socket): void {
    const read = socket.read.bind(socket);
    socket.read = (size?: number) => {
      // read(0) is the stream refilling its buffer, not handing data on: always let it through.
      if (size !== 0 && this.spent()) {
        this.waiting.add(socket);
        return null;
      }
      return read(size);
    };
  }

  private spent(): boolean {
    const now = this.now();
    if (this.turnStart < 0) {
      this.turnStart = now;
      setImmediate(this.nextTurn);
      return false;
    }
    return now - this.turnStart >= this.turnMs;
  }

  private readonly nextTurn = (): void => {
    this.turnStart = -1;
    const sockets = [...this.waiting];
    this.waiting.clear();
    // 'readable' is what aedes reads on; the put-off read was the last thing it did.
    for (const socket of sockets) if (!socket.destroyed) socket.emit('readable');
  };
}
