/** A loop's wait for its next turn that wake() ends early (new work, stop()). One sleeper at a time. */
export class Nap {
  private end?: () => void;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.end = done;
    });
  }

  wake(): void {
    const end = this.end;
    this.end = undefined;
    end?.();
  }
}
