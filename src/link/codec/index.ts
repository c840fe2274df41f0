/** The link codec: frame constants, encoders, the incremental decoder and the data layouts. No I/O. */
export * from './frame-types.ts'
export * from './errors.ts'
export { writeHeader, encodeHeader, encodeFrame, allocFrame, encodeData } from './encoder.ts'
export { FrameDecoder, type FrameHandler, type FrameDecoderOptions } from './decoder.ts'
export {
  encodeHello, parseHello, encodeAuth, parseAuth, encodeAuthOk, parseAuthOk, encodePing, encodePong, parsePing,
  encodeStatsRequest, parseStatsRequest, encodeStatsReply, parseStatsReply, encodeApiRequest, encodeApiReply, parseApi,
  encodeError, parseError, type Hello, type Auth, type StatsReply, type ApiMessage, type ErrorFrame
} from './control.ts'
export {
  encodeOpen, parseOpen, encodeStreamStart, parseStreamStart, parseData, encodeRestart, encodeClose, parseClose,
  type OpenParams, type StreamStart, type Close, type Transport
} from './session.ts'
export { MAX_STR16 } from './fields.ts'
