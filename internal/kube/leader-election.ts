// Lease-based leader election (coordination.k8s.io/v1), as client-go does it, so that of several controller
// replicas exactly one reconciles and the others stand by:
//  - a candidate creates the Lease if it is missing, and takes it over only when it is released (no holder)
//    or expired (renewTime + leaseDuration in the past);
//  - every write carries the resourceVersion it read, so of two candidates racing for one Lease one wins;
//  - the leader renews every retryPeriod and steps down when it has not renewed for renewDeadline (which is
//    shorter than leaseDuration, so it stops before anyone may take over), or as soon as it sees another holder.
// Unlike client-go, a replica that stepped down becomes a candidate again: onStartedLeading and
// onStoppedLeading alternate, possibly several times.
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import { apiStatusCode } from "./api-error.js";
import { OutageLog } from "./outage-log.js";
import { withSignal } from "./request-signal.js";

export interface LeaderElectionOptions {
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** Unique per replica, e.g. the pod name. */
  identity: string;
  /** How long others wait after the last renewal before they take over; a whole number; default 15. */
  leaseDurationSeconds?: number;
  /** How long the leader keeps trying to renew before it steps down; default 10. */
  renewDeadlineSeconds?: number;
  /** Pause between attempts to acquire or renew; default 2. */
  retryPeriodSeconds?: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

type Attempt = { holding: true } | { holding: false; holder: string };

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly stopping = new AbortController();
  private readonly outage: OutageLog;
  private readonly logContext: { lease: string; identity: string };
  private campaign: Promise<void> | undefined;
  private leading = false;

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = (options.renewDeadlineSeconds ?? 10) * 1000;
    this.retryPeriodMs = (options.retryPeriodSeconds ?? 2) * 1000;
    // The same checks as client-go: the leader must give up before its lease can expire, and get several
    // renewal attempts before it gives up.
    if (!Number.isInteger(this.leaseDurationSeconds) || this.leaseDurationSeconds < 1) throw new Error("leaseDurationSeconds must be a whole number >= 1");
    if (this.leaseDurationSeconds * 1000 <= this.renewDeadlineMs) throw new Error("leaseDurationSeconds must be greater than renewDeadlineSeconds");
    if (this.renewDeadlineMs <= this.retryPeriodMs * 1.2) throw new Error("renewDeadlineSeconds must be greater than 1.2 * retryPeriodSeconds");
    this.logContext = { lease: `${options.namespace}/${options.name}`, identity: options.identity };
    this.outage = new OutageLog(log, this.logContext, "leader election");
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns for the Lease until stop(). */
  run(callbacks: LeaderCallbacks): void {
    if (this.campaign) throw new Error("leader election already running");
    this.campaign = this.campaignUntilStopped(callbacks);
  }

  /** Ends the campaign; a leader calls onStoppedLeading and then releases the Lease, so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.campaign;
  }

  private async campaignUntilStopped(callbacks: LeaderCallbacks): Promise<void> {
    let lastHolder = "";
    while (!this.stopping.signal.aborted) {
      const attemptAt = Date.now();
      const attempt = await this.attempt(AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.renewDeadlineMs)]));
      if (attempt?.holding) {
        this.log.info(this.logContext, "leader election: became leader");
        this.leading = true;
        this.notify(callbacks.onStartedLeading);
        await this.renewUntilLost(attemptAt);
        this.leading = false;
        this.notify(callbacks.onStoppedLeading);
        if (this.stopping.signal.aborted) await this.release();
      } else if (attempt && attempt.holder !== lastHolder) {
        lastHolder = attempt.holder;
        this.log.info({ ...this.logContext, leader: attempt.holder }, "leader election: another replica leads");
      }
      // Jittered, so that candidates that failed together do not retry in step.
      await this.pause(this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
  }

  /**
   * Renews every retryPeriod; returns when stopping, as soon as another holder shows up, or once renewDeadline
   * passed since the last renewal that went through (renewedAt: when it was sent).
   */
  private async renewUntilLost(renewedAt: number): Promise<void> {
    while (await this.pause(this.retryPeriodMs)) {
      const attemptAt = Date.now();
      const deadline = renewedAt + this.renewDeadlineMs;
      const attempt = attemptAt < deadline ? await this.attempt(AbortSignal.timeout(deadline - attemptAt)) : undefined;
      if (attempt?.holding) {
        renewedAt = attemptAt;
      } else if (attempt) {
        this.log.warn({ ...this.logContext, leader: attempt.holder }, "leader election: lease taken over; stepping down");
        return;
      } else if (Date.now() >= deadline) {
        this.log.warn(this.logContext, "leader election: could not renew the lease in time; stepping down");
        return;
      }
    }
  }

  /** One acquire-or-renew round trip; undefined when it failed (logged) and is to be retried. */
  private async attempt(signal: AbortSignal): Promise<Attempt | undefined> {
    try {
      const attempt = await this.tryAcquireOrRenew(signal);
      this.outage.succeeded();
      return attempt;
    } catch (err) {
      if (apiStatusCode(err) === 409) {
        this.log.debug(this.logContext, "leader election: lost a race for the lease");
      } else if (!this.stopping.signal.aborted) {
        this.outage.failed(err);
      }
      return undefined;
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const { namespace, name, identity } = this.options;
    const options = withSignal(signal);
    const now = new V1MicroTime();
    const lease = await this.readLease(signal);
    if (!lease) {
      const spec: V1LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: this.leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }, options);
      return { holding: true };
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    if (holder !== "" && holder !== identity && !expired(spec, now)) return { holding: false, holder };
    const takingOver = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      renewTime: now,
      ...(takingOver && { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    // lease.metadata.resourceVersion is the one just read: if anyone wrote in between, this fails with 409.
    await this.api.replaceNamespacedLease({ namespace, name, body: lease }, options);
    return { holding: true };
  }

  /** Clears the holder, as client-go's ReleaseOnCancel does; best effort. */
  private async release(): Promise<void> {
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    try {
      const lease = await this.readLease(signal);
      if (!lease?.spec || lease.spec.holderIdentity !== this.options.identity) return;
      const now = new V1MicroTime();
      lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      await this.api.replaceNamespacedLease({ namespace: this.options.namespace, name: this.options.name, body: lease }, withSignal(signal));
      this.log.info(this.logContext, "leader election: released the lease");
    } catch (err) {
      this.log.warn({ ...this.logContext, err }, "leader election: could not release the lease; it expires on its own");
    }
  }

  private async readLease(signal: AbortSignal): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ namespace: this.options.namespace, name: this.options.name }, withSignal(signal));
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Sleeps; false when stop() cut it short. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
      return true;
    } catch {
      return false;
    }
  }

  private notify(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.log.error({ ...this.logContext, err }, "leader election: callback failed");
    }
  }
}

/** renewTime + leaseDurationSeconds is in the past. The API client hands MicroTime back as a string. */
function expired(spec: V1LeaseSpec, now: Date): boolean {
  if (spec.renewTime === undefined) return true;
  const renewedAt = new Date(spec.renewTime as Date | string).getTime();
  return renewedAt + (spec.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
}
