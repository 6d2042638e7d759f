;; SP 800-90B continuous health tests over 8-bit samples, 16 samples per step (WebAssembly SIMD).
;; Same verdicts and the same carried state as reference.ts, which the tests hold it to.
;; check(ptr, len) -> 0 healthy, 1 repetition count test tripped, 2 adaptive proportion test tripped.
(module
  (import "env" "memory" (memory 1))

  (global $rctCutoff (mut i32) (i32.const 0))
  (global $aptCutoff (mut i32) (i32.const 0))
  (global $window (mut i32) (i32.const 512))
  ;; Repetition Count Test: last sample (-1 before any) and the length of its run.
  (global $last (mut i32) (i32.const -1))
  (global $run (mut i32) (i32.const 0))
  ;; Adaptive Proportion Test: the window's first sample, its count, samples seen (0 = next one opens a window).
  (global $reference (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (global $seen (mut i32) (i32.const 0))

  (func (export "configure") (param $rct i32) (param $apt i32) (param $window i32)
    (global.set $rctCutoff (local.get $rct))
    (global.set $aptCutoff (local.get $apt))
    (global.set $window (local.get $window))
    (global.set $last (i32.const -1))
    (global.set $run (i32.const 0))
    (global.set $reference (i32.const 0))
    (global.set $count (i32.const 0))
    (global.set $seen (i32.const 0)))

  (func (export "last") (result i32) (global.get $last))
  (func (export "run") (result i32) (global.get $run))
  (func (export "reference") (result i32) (global.get $reference))
  (func (export "count") (result i32) (global.get $count))
  (func (export "seen") (result i32) (global.get $seen))

  (func (export "check") (param $p i32) (param $n i32) (result i32)
    (if (call $repetition (local.get $p) (local.get $n)) (then (return (i32.const 1))))
    (if (call $proportion (local.get $p) (local.get $n)) (then (return (i32.const 2))))
    (i32.const 0))

  ;; One sample through the RCT; 1 when its run reaches the cutoff.
  (func $rctStep (param $x i32) (result i32)
    (if (i32.eq (local.get $x) (global.get $last))
      (then
        (global.set $run (i32.add (global.get $run) (i32.const 1)))
        (return (i32.ge_u (global.get $run) (global.get $rctCutoff)))))
    (global.set $last (local.get $x))
    (global.set $run (i32.const 1))
    (i32.const 0))

  ;; RCT over [p, end) one sample at a time; 1 on a trip.
  (func $rctScalar (param $i i32) (param $end i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (if (call $rctStep (i32.load8_u (local.get $i))) (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func $repetition (param $p i32) (param $n i32) (result i32)
    (local $i i32)
    (local $end i32)
    (local $repeats i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    ;; The first sample continues the run carried over from the previous batch.
    (if (call $rctStep (i32.load8_u (local.get $p))) (then (return (i32.const 1))))
    (local.set $i (i32.add (local.get $p) (i32.const 1)))
    (block $done
      (loop $block
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        ;; Bit j: sample i+j repeats its predecessor.
        (local.set $repeats (i8x16.bitmask
          (i8x16.eq (v128.load (local.get $i)) (v128.load (i32.sub (local.get $i) (i32.const 1))))))
        (if (local.get $repeats)
          (then (if (call $rctBlock (local.get $repeats)) (then (return (i32.const 1)))))
          (else (global.set $run (i32.const 1))))
        (global.set $last (i32.load8_u (i32.add (local.get $i) (i32.const 15))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $block)))
    (call $rctScalar (local.get $i) (local.get $end)))

  ;; The RCT over one 16-sample block from its repeat mask; updates $run, 1 on a trip.
  (func $rctBlock (param $repeats i32) (result i32)
    (local $runs i32)
    (local $k i32)
    (if (i32.eq (local.get $repeats) (i32.const 0xffff))
      (then
        (global.set $run (i32.add (global.get $run) (i32.const 16)))
        (return (i32.ge_u (global.get $run) (global.get $rctCutoff)))))
    ;; The run carried in grows by the repeats that open the block.
    (if (i32.ge_u
          (i32.add (global.get $run) (i32.ctz (i32.xor (local.get $repeats) (i32.const -1))))
          (global.get $rctCutoff))
      (then (return (i32.const 1))))
    ;; A run of C samples inside the block is C - 1 consecutive repeat bits.
    (if (i32.ge_u (i32.popcnt (local.get $repeats)) (i32.sub (global.get $rctCutoff) (i32.const 1)))
      (then
        (local.set $runs (local.get $repeats))
        (local.set $k (i32.const 2))
        (block $shifted
          (loop $shift
            (br_if $shifted (i32.ge_u (local.get $k) (global.get $rctCutoff)))
            (local.set $runs (i32.and (local.get $runs) (i32.shr_u (local.get $runs) (i32.const 1))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $shift)))
        (if (local.get $runs) (then (return (i32.const 1))))))
    ;; The run that closes the block: its trailing repeat bits, plus its first sample.
    (global.set $run (i32.add (i32.const 1)
      (i32.clz (i32.shl (i32.xor (local.get $repeats) (i32.const 0xffff)) (i32.const 16)))))
    (i32.const 0))

  (func $sumLanes (param $v v128) (result i32)
    (local $w v128)
    (local.set $w (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $w)) (i32x4.extract_lane 1 (local.get $w)))
      (i32.add (i32x4.extract_lane 2 (local.get $w)) (i32x4.extract_lane 3 (local.get $w)))))

  (func $proportion (param $p i32) (param $n i32) (result i32)
    (local $i i32)
    (local $end i32)
    (local $start i32)
    (local $stop i32)
    (local $blocks i32)
    (local $matches v128)
    (local $splat v128)
    (local.set $i (local.get $p))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $segment
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.eqz (global.get $seen))
          (then
            ;; This sample opens a window and is its reference.
            (global.set $reference (i32.load8_u (local.get $i)))
            (global.set $count (i32.const 1))
            (global.set $seen (i32.const 1))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $segment)))
        ;; The segment runs to the end of the window or of the batch, whichever comes first.
        (local.set $start (local.get $i))
        (local.set $stop (i32.add (local.get $i) (i32.sub (global.get $window) (global.get $seen))))
        (if (i32.gt_u (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
        (local.set $splat (i8x16.splat (global.get $reference)))
        ;; Lanes count matches as bytes, so they are summed every 255 blocks at most.
        (loop $group
          (local.set $matches (v128.const i64x2 0 0))
          (local.set $blocks (i32.const 0))
          (block $groupDone
            (loop $block
              (br_if $groupDone (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $stop)))
              (br_if $groupDone (i32.eq (local.get $blocks) (i32.const 255)))
              (local.set $matches
                (i8x16.sub (local.get $matches) (i8x16.eq (v128.load (local.get $i)) (local.get $splat))))
              (local.set $i (i32.add (local.get $i) (i32.const 16)))
              (local.set $blocks (i32.add (local.get $blocks) (i32.const 1)))
              (br $block)))
          (global.set $count (i32.add (global.get $count) (call $sumLanes (local.get $matches))))
          (br_if $group (i32.eq (local.get $blocks) (i32.const 255))))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $i) (local.get $stop)))
            (global.set $count
              (i32.add (global.get $count) (i32.eq (i32.load8_u (local.get $i)) (global.get $reference))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tail)))
        (global.set $seen (i32.add (global.get $seen) (i32.sub (local.get $stop) (local.get $start))))
        (if (i32.ge_u (global.get $count) (global.get $aptCutoff)) (then (return (i32.const 1))))
        (if (i32.eq (global.get $seen) (global.get $window)) (then (global.set $seen (i32.const 0))))
        (br $segment)))
    (i32.const 0))
)
