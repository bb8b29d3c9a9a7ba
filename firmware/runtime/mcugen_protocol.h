/* Wire protocol constants shared by the runtime; docs/protocol.md is the full description
 * and codegen/protocol.py the host side. Frame: A5 5A | cmd | len (u16 LE) | payload |
 * CRC-16/CCITT-FALSE (u16 LE) over cmd, len and payload. */
#ifndef MCUGEN_PROTOCOL_H
#define MCUGEN_PROTOCOL_H

#define MCUGEN_PROTOCOL_VERSION 1u

#define MCUGEN_SYNC0 0xA5u
#define MCUGEN_SYNC1 0x5Au

/* Largest payload of any frame in either direction; small enough for a 16 KB RAM part. */
#ifndef MCUGEN_MAX_PAYLOAD
#define MCUGEN_MAX_PAYLOAD 256u
#endif

/* host -> board */
#define CMD_HELLO 0x01u
#define CMD_INPUT 0x02u /* u32 offset, bytes */
#define CMD_INFER 0x03u /* u8 flags: bit0 = stream every layer's output */

/* board -> host */
#define RSP_HELLO 0x81u  /* see docs/protocol.md */
#define RSP_INPUT 0x82u  /* u32 bytes of input received so far */
#define RSP_DONE 0x83u   /* u64 ticks, i32 invoke result, u16 layers streamed */
#define RSP_LAYER 0x84u  /* u16 layer, u32 layer bytes, u32 offset, bytes */
#define RSP_OUTPUT 0x85u /* u32 offset, bytes */
#define RSP_ERROR 0xEEu  /* u8 code, u8 offending command, ASCII text */

#define INFER_FLAG_LAYERS 0x01u

#define ERR_BAD_CRC 1u
#define ERR_BAD_LENGTH 2u
#define ERR_UNKNOWN_COMMAND 3u
#define ERR_BAD_PAYLOAD 4u
#define ERR_INPUT_INCOMPLETE 5u
#define ERR_FRAME_TIMEOUT 6u
#define ERR_NO_LAYER_HOOK 7u
#define ERR_FAULT 8u

#define HELLO_FLAG_LAYER_HOOK 0x01u

#endif
