/**
 * Admission control's options from the configuration (src/config/schema.ts declares each, with
 * its default and why).
 */
import { DEFAULTS, type Config } from '../config/schema.ts'
import type { AdmissionOptions } from './admission.ts'

export function admissionOptions (c: Config): AdmissionOptions {
  return {
    sessionRate: c.admissionSessionRate,
    sessionBurst: c.admissionSessionBurst,
    unauthenticated: c.admissionUnauthenticated,
    unauthenticatedTotal: c.admissionUnauthenticatedTotal,
    connections: c.admissionConnections,
    heldRequests: c.admissionHeldRequests,
    addresses: c.admissionAddresses,
    ipv6Prefix: c.admissionIpv6Prefix,
    exempt: c.admissionExempt
  }
}

export const ADMISSION_DEFAULTS: AdmissionOptions = admissionOptions(DEFAULTS)
