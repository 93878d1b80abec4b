import { MonitoredItem, Subscription } from './ua.js';

interface Item {
  $subscription?: Harvesting;
  hasMonitoredItemNotifications: boolean;
  monitoredItemId: number;
  extractMonitoredItemNotifications(): unknown[];
  _enqueue_notification(notification: unknown): void;
}

interface Harvesting {
  monitoredItems: Map<number, Item>;
  _hasUncollectedMonitoredItemNotifications: boolean;
  _harvestMonitoredItems(): void;
  _addNotificationMessage(notification: unknown, monitoredItemId: number): void;
}

/** The items of each subscription that have queued something since its last harvest. */
const queued = new WeakMap<Harvesting, Set<Item>>();

function mark(item: Item): void {
  const subscription = item.$subscription;
  if (!subscription) return;
  let items = queued.get(subscription);
  if (!items) queued.set(subscription, (items = new Set()));
  items.add(item);
}

const subscription = Subscription.prototype as unknown as Harvesting;
const item = MonitoredItem.prototype as unknown as Item;
const original = {
  harvest: subscription._harvestMonitoredItems,
  uncollected: Object.getOwnPropertyDescriptor(subscription, 'hasUncollectedMonitoredItemNotifications')!,
  enqueue: item._enqueue_notification,
};

/**
 * node-opcua 2.182 visits every monitored item of a subscription at each publishing interval, and
 * gives each one a new queue array whether it had anything queued or not: 20 clients watching
 * 10,000 items each at 50 ms make 4 million visits and arrays a second, most of the server's CPU
 * and garbage at that load. Here each item that queues a notification is remembered by its
 * subscription, and a harvest visits only those. An item whose queue is not collected (a
 * monitoring mode other than Reporting, or one a trigger has yet to collect) stays remembered,
 * so nothing is left behind that the full scan would have found. Installed once per process;
 * `restoreHarvest` puts the library's own back, for the test that compares both.
 */
export function harvestQueuedItemsOnly(): void {
  item._enqueue_notification = function (this: Item, notification: unknown) {
    original.enqueue.call(this, notification);
    mark(this);
  };
  subscription._harvestMonitoredItems = function (this: Harvesting) {
    const items = queued.get(this);
    if (items) {
      for (const item of items) {
        if (this.monitoredItems.get(item.monitoredItemId) === item) {
          for (const notification of item.extractMonitoredItemNotifications())
            this._addNotificationMessage(notification, item.monitoredItemId);
          if (item.hasMonitoredItemNotifications) continue;
        }
        items.delete(item);
      }
    }
    this._hasUncollectedMonitoredItemNotifications = false;
  };
  Object.defineProperty(subscription, 'hasUncollectedMonitoredItemNotifications', {
    configurable: true,
    get(this: Harvesting): boolean {
      if (this._hasUncollectedMonitoredItemNotifications) return true;
      for (const item of queued.get(this) ?? []) {
        if (item.hasMonitoredItemNotifications && this.monitoredItems.get(item.monitoredItemId) === item)
          return (this._hasUncollectedMonitoredItemNotifications = true);
      }
      return false;
    },
  });
}

export function restoreHarvest(): void {
  subscription._harvestMonitoredItems = original.harvest;
  Object.defineProperty(subscription, 'hasUncollectedMonitoredItemNotifications', original.uncollected);
  item._enqueue_notification = original.enqueue;
}
