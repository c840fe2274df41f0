export {
  TimerWheel, intervalTicks, TIMER_OPTIONS, TIMER_ID_RANGE, DEFAULT_RESOLUTION_MS, DEFAULT_SLOTS
} from './wheel.ts'
export type { TimerWheelOptions, TickSource } from './wheel.ts'
