/**
 * A minimal doubly linked FIFO used for parked waiters (blocked senders, receivers, semaphore acquirers).
 *
 * A linked list rather than an array because waiters leave from the middle (timeouts, aborts) and that
 * must stay O(1); each node is the only allocation a waiter costs.
 *
 * @internal
 */

/** A queued entry. Holding the node lets the owner remove it in O(1). */
export interface WaitNode<T> {
  readonly value: T;
  prev: WaitNode<T> | undefined;
  next: WaitNode<T> | undefined;
  /** False once the node has left the queue, so a late removal is a no-op. */
  linked: boolean;
}

/** FIFO of waiters with O(1) push, shift and removal of an arbitrary node. @internal */
export class WaitQueue<T> {
  private head: WaitNode<T> | undefined;
  private tail: WaitNode<T> | undefined;
  private count = 0;

  /** Number of queued entries. */
  get length(): number {
    return this.count;
  }

  /** Appends `value` and returns its node, which the caller keeps for {@link remove}. */
  push(value: T): WaitNode<T> {
    const node: WaitNode<T> = { value, prev: this.tail, next: undefined, linked: true };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count++;
    return node;
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  /** Unlinks `node`; harmless if it already left the queue. */
  remove(node: WaitNode<T>): void {
    if (!node.linked) return;
    node.linked = false;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
    this.count--;
  }
}
