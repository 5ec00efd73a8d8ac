// attnrt_quant.cuh — ggml's block-quantized weights (ggml-common.h layouts), read eight consecutive
// elements at a time so that a quantized row streams through the same chunk loop as a 16-bit one.
//
// A row of `in` elements is in / kElems blocks of kBytes bytes, rows back to back (row r starts at byte
// r * (in / kElems) * kBytes). Chunk c of a row = elements 8c .. 8c+7, which always lie in one block b =
// c / (kElems / 8) at position k = c % (kElems / 8). Each chunk is decoded on its own (it loads its own
// scales), so a K range may start or end inside a block.
//
//   type   kElems kBytes  block layout (byte offsets)                    chunk k reads
//   q8_0     32     34    d f16 @0, qs int8[32] @2                        d, qs[8k .. 8k+7]
//   q4_0     32     18    d f16 @0, qs u8[16] @2 (elem j: low nibble      d, qs[8(k&1) ..] nibble k>>1
//                         of qs[j], elem j+16: high nibble), value q-8
//   q4_k    256    144    d, dmin f16 @0,2; scales 12 B @4 (6-bit scale    header 16 B, ql 8 B
//                         and min of 8 sub-blocks of 32); ql u8[128] @16
//                         (sub-blocks 2j, 2j+1: low/high nibbles of ql[32j ..])
//   q5_k    256    176    q4_k's header; qh u8[32] @16 (bit 2j / 2j+1 of  header, qh 8 B, ql 8 B
//                         qh[l] adds 16 to sub-block 2j / 2j+1); ql @48
//   q6_k    256    210    ql u8[128] @0, qh u8[64] @128, scales int8[16]   ql 8 B, qh 8 B, 1 scale, d
//                         @192, d f16 @208; halves of 128: ql[64n ..],
//                         qh[32n ..], scales[8n ..], value q-32
//
// Alignment: q4_k/q5_k blocks are multiples of 16 bytes, so their header is one 16-byte load and their
// quant bytes one 8-byte load; q8_0, q4_0 and q6_k blocks are only 2-byte aligned and go through 16-bit
// loads. Rows must start at a multiple of 16 bytes for q4_k/q5_k (cuMemAlloc's alignment, and whole rows).
//
// Values come out exactly as attnrt's Quant.java decodes them (and ggml's dequantize_row_*): the same fp32
// operations in the same order. q4_k/q5_k: d·sc and dmin·m are exact (11 × 6 bits), (d·sc)·q too (≤ 22
// bits), so only the final subtraction rounds, and fused or not it rounds the same; q6_k's (d·sc)·q rounds
// once, as in ggml.
#pragma once

#include <cuda_fp16.h>
#include <stdint.h>
#include <string.h>

namespace {

struct q8_0 { static constexpr int kElems = 32, kBytes = 34; };
struct q4_0 { static constexpr int kElems = 32, kBytes = 18; };
struct q4_k { static constexpr int kElems = 256, kBytes = 144; };
struct q5_k { static constexpr int kElems = 256, kBytes = 176; };
struct q6_k { static constexpr int kElems = 256, kBytes = 210; };

template <typename T> struct IsQuant { static constexpr bool value = false; };
template <> struct IsQuant<q8_0> { static constexpr bool value = true; };
template <> struct IsQuant<q4_0> { static constexpr bool value = true; };
template <> struct IsQuant<q4_k> { static constexpr bool value = true; };
template <> struct IsQuant<q5_k> { static constexpr bool value = true; };
template <> struct IsQuant<q6_k> { static constexpr bool value = true; };

// The raw loads of one chunk, issued by qload and decoded by qwiden, so that several chunks' loads can be
// in flight before the first is used.
template <typename Q> struct QChunk;
// Words are packed as they load (two 16-bit loads per 32-bit word) to keep the registers of the several
// chunks in flight down; `meta` holds the f16 scale bits in its low half and the chunk's position above.
template <> struct QChunk<q8_0> { uint32_t qs[2]; uint32_t meta; };
template <> struct QChunk<q4_0> { uint32_t qs[2]; uint32_t meta; };
template <> struct QChunk<q4_k> { uint4 header; uint2 ql; int sub; };
template <> struct QChunk<q5_k> { uint4 header; uint2 qh; uint2 ql; int sub; };
template <> struct QChunk<q6_k> { uint32_t ql[2], qh[2]; uint32_t meta; };

template <typename Q> __device__ __forceinline__ const uint8_t* qrow(const Q* w, long long row, int in) {
    return reinterpret_cast<const uint8_t*>(w) + row * (long long)(in / Q::kElems) * Q::kBytes;
}

template <bool kStreamed, typename T> __device__ __forceinline__ T qld(const uint8_t* p) {
    const T* q = reinterpret_cast<const T*>(p);
    return kStreamed ? __ldcs(q) : __ldg(q);
}

__device__ __forceinline__ float half_bits(uint16_t bits) {
    __half h;
    memcpy(static_cast<void*>(&h), &bits, 2);
    return __half2float(h);
}

// Byte i (< 16, runtime) of a 16-byte header, by selects on its words: indexing a byte array with a
// runtime index would put the header in local memory.
__device__ __forceinline__ int header_byte(const uint4& h, int i) {
    const int w = i >> 2;
    const uint32_t word = w == 0 ? h.x : w == 1 ? h.y : w == 2 ? h.z : h.w;
    return (word >> (8 * (i & 3))) & 0xFF;
}

// ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 bytes at header byte 4.
__device__ __forceinline__ void scale_min_k4(const uint4& h, int j, int& sc, int& m) {
    if (j < 4) {
        sc = header_byte(h, 4 + j) & 63;
        m = header_byte(h, 8 + j) & 63;
    } else {
        sc = (header_byte(h, 8 + j) & 0xF) | ((header_byte(h, j) >> 6) << 4);
        m = (header_byte(h, 8 + j) >> 4) | ((header_byte(h, 4 + j) >> 6) << 4);
    }
}

// Bytes p .. p+3 of a 2-byte aligned address as one word, from two 16-bit loads.
template <bool kStreamed> __device__ __forceinline__ uint32_t qld32(const uint8_t* p) {
    return (uint32_t)qld<kStreamed, uint16_t>(p) | ((uint32_t)qld<kStreamed, uint16_t>(p + 2) << 16);
}

template <bool kStreamed> __device__ __forceinline__ void qload(QChunk<q8_0>& c, const uint8_t* row, int chunk) {
    const uint8_t* b = row + (chunk >> 2) * q8_0::kBytes;
    const int k = chunk & 3;
    c.meta = qld<kStreamed, uint16_t>(b);
    c.qs[0] = qld32<kStreamed>(b + 2 + 8 * k);
    c.qs[1] = qld32<kStreamed>(b + 6 + 8 * k);
}
__device__ __forceinline__ void qwiden(const QChunk<q8_0>& c, float (&v)[8]) {
    const float d = half_bits((uint16_t)c.meta);
    for (int i = 0; i < 8; ++i) v[i] = (float)(int8_t)(c.qs[i >> 2] >> (8 * (i & 3))) * d;
}

template <bool kStreamed> __device__ __forceinline__ void qload(QChunk<q4_0>& c, const uint8_t* row, int chunk) {
    const uint8_t* b = row + (chunk >> 2) * q4_0::kBytes;
    const int k = chunk & 3;
    c.qs[0] = qld32<kStreamed>(b + 2 + 8 * (k & 1));
    c.qs[1] = qld32<kStreamed>(b + 6 + 8 * (k & 1));
    c.meta = qld<kStreamed, uint16_t>(b) | ((uint32_t)(4 * (k >> 1)) << 16);  // nibble shift above the scale
}
__device__ __forceinline__ void qwiden(const QChunk<q4_0>& c, float (&v)[8]) {
    const float d = half_bits((uint16_t)c.meta);
    const int shift = (int)(c.meta >> 16);
    for (int i = 0; i < 8; ++i) v[i] = (float)((int)((c.qs[i >> 2] >> (8 * (i & 3) + shift)) & 0xF) - 8) * d;
}

// q4_k and q5_k chunk k of a block: sub-block sub = 2 (k / 8) + (k / 4) % 2, quant bytes at 32 (k / 8) +
// 8 (k % 4) (each byte holds an element of sub-blocks 2j and 2j+1), nibble = sub % 2.
template <bool kStreamed> __device__ __forceinline__ void qload(QChunk<q4_k>& c, const uint8_t* row, int chunk) {
    const uint8_t* b = row + (chunk >> 5) * q4_k::kBytes;
    const int k = chunk & 31;
    c.header = qld<kStreamed, uint4>(b);
    c.ql = qld<kStreamed, uint2>(b + 16 + 32 * (k >> 3) + 8 * (k & 3));
    c.sub = 2 * (k >> 3) + ((k >> 2) & 1);
}
template <bool kStreamed> __device__ __forceinline__ void qload(QChunk<q5_k>& c, const uint8_t* row, int chunk) {
    const uint8_t* b = row + (chunk >> 5) * q5_k::kBytes;
    const int k = chunk & 31;
    c.header = qld<kStreamed, uint4>(b);
    c.qh = qld<kStreamed, uint2>(b + 16 + 8 * (k & 3));
    c.ql = qld<kStreamed, uint2>(b + 48 + 32 * (k >> 3) + 8 * (k & 3));
    c.sub = 2 * (k >> 3) + ((k >> 2) & 1);
}
// Sub-block scale and min of a q4_k/q5_k header (d, dmin, 12 scale bytes): d·sc and dmin·m, both exact.
__device__ __forceinline__ void k_scales(const uint4& header, int sub, float& scale, float& min) {
    int sc, m;
    scale_min_k4(header, sub, sc, m);
    scale = half_bits((uint16_t)(header.x & 0xFFFF)) * (float)sc;
    min = half_bits((uint16_t)(header.x >> 16)) * (float)m;
}
__device__ __forceinline__ void qwiden(const QChunk<q4_k>& c, float (&v)[8]) {
    float scale, min;
    k_scales(c.header, c.sub, scale, min);
    uint8_t q[8];
    memcpy(q, &c.ql, 8);
    const int shift = 4 * (c.sub & 1);
    for (int i = 0; i < 8; ++i) v[i] = __fsub_rn(__fmul_rn(scale, (float)((q[i] >> shift) & 0xF)), min);
}
__device__ __forceinline__ void qwiden(const QChunk<q5_k>& c, float (&v)[8]) {
    float scale, min;
    k_scales(c.header, c.sub, scale, min);
    uint8_t q[8], h[8];
    memcpy(q, &c.ql, 8);
    memcpy(h, &c.qh, 8);
    const int shift = 4 * (c.sub & 1);
    for (int i = 0; i < 8; ++i) {
        const int value = ((q[i] >> shift) & 0xF) | (((h[i] >> c.sub) & 1) << 4);
        v[i] = __fsub_rn(__fmul_rn(scale, (float)value), min);
    }
}

// q6_k chunk k of a block: half n = k / 16, quarter r = (k / 4) % 4, l = 8 (k % 4): low bits from
// ql[64n + l + 32 (r % 2)] (nibble r / 2), high two bits from qh[32n + l] (bits 2r, 2r+1), scale
// scales[8n + l / 16 + 2r].
template <bool kStreamed> __device__ __forceinline__ void qload(QChunk<q6_k>& c, const uint8_t* row, int chunk) {
    const uint8_t* b = row + (chunk >> 5) * q6_k::kBytes;
    const int k = chunk & 31;
    const int n = k >> 4, r = (k >> 2) & 3, l = 8 * (k & 3);
    const uint8_t* ql = b + 64 * n + l + 32 * (r & 1);
    const uint8_t* qh = b + 128 + 32 * n + l;
    c.ql[0] = qld32<kStreamed>(ql);
    c.ql[1] = qld32<kStreamed>(ql + 4);
    c.qh[0] = qld32<kStreamed>(qh);
    c.qh[1] = qld32<kStreamed>(qh + 4);
    // d, the sub-block's int8 scale, and r (which nibble and which two high bits)
    c.meta = qld<kStreamed, uint16_t>(b + 208) | ((uint32_t)qld<kStreamed, uint8_t>(b + 192 + 8 * n + (l >> 4) + 2 * r)
             << 16) | ((uint32_t)r << 24);
}
__device__ __forceinline__ void qwiden(const QChunk<q6_k>& c, float (&v)[8]) {
    const float ds = __fmul_rn(half_bits((uint16_t)c.meta), (float)(int8_t)(c.meta >> 16));
    const int r = (int)(c.meta >> 24);
    const int lshift = 4 * (r >> 1), hshift = 2 * r;
    for (int i = 0; i < 8; ++i) {
        const int byte = 8 * (i & 3);
        const int lo = (c.ql[i >> 2] >> (byte + lshift)) & 0xF;
        const int hi = (c.qh[i >> 2] >> (byte + hshift)) & 3;
        v[i] = __fmul_rn(ds, (float)((lo | (hi << 4)) - 32));
    }
}

}  // namespace
