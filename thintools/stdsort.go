package thintools

import "math/bits"

// stdSort sorts like GNU libstdc++'s std::sort (introsort: median-of-three
// quicksort down to runs of 16, heapsort past the depth limit, then a final
// insertion sort). It is not stable; thin_rmap's output order for runs
// with equal keys depends on exactly this algorithm, so it is reproduced.
func stdSort[T any](a []T, less func(x, y T) bool) {
	n := len(a)
	if n < 2 {
		return
	}
	introLoop(a, 0, n, 2*(bits.Len(uint(n))-1), less)
	if n > 16 {
		insertionSort(a, 0, 16, less)
		for i := 16; i < n; i++ {
			unguardedLinearInsert(a, i, less)
		}
	} else {
		insertionSort(a, 0, n, less)
	}
}

func introLoop[T any](a []T, first, last, depth int, less func(x, y T) bool) {
	for last-first > 16 {
		if depth == 0 {
			heapSort(a[first:last], less)
			return
		}
		depth--
		mid := first + (last-first)/2
		moveMedianToFirst(a, first, first+1, mid, last-1, less)
		cut := unguardedPartition(a, first+1, last, first, less)
		introLoop(a, cut, last, depth, less)
		last = cut
	}
}

func moveMedianToFirst[T any](a []T, result, x, y, z int, less func(x, y T) bool) {
	switch {
	case less(a[x], a[y]):
		switch {
		case less(a[y], a[z]):
			a[result], a[y] = a[y], a[result]
		case less(a[x], a[z]):
			a[result], a[z] = a[z], a[result]
		default:
			a[result], a[x] = a[x], a[result]
		}
	case less(a[x], a[z]):
		a[result], a[x] = a[x], a[result]
	case less(a[y], a[z]):
		a[result], a[z] = a[z], a[result]
	default:
		a[result], a[y] = a[y], a[result]
	}
}

func unguardedPartition[T any](a []T, first, last, pivot int, less func(x, y T) bool) int {
	for {
		for less(a[first], a[pivot]) {
			first++
		}
		last--
		for less(a[pivot], a[last]) {
			last--
		}
		if first >= last {
			return first
		}
		a[first], a[last] = a[last], a[first]
		first++
	}
}

func insertionSort[T any](a []T, first, last int, less func(x, y T) bool) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		if less(a[i], a[first]) {
			v := a[i]
			copy(a[first+1:i+1], a[first:i])
			a[first] = v
		} else {
			unguardedLinearInsert(a, i, less)
		}
	}
}

func unguardedLinearInsert[T any](a []T, last int, less func(x, y T) bool) {
	v := a[last]
	next := last - 1
	for less(v, a[next]) {
		a[last] = a[next]
		last = next
		next--
	}
	a[last] = v
}

func heapSort[T any](a []T, less func(x, y T) bool) {
	n := len(a)
	if n >= 2 {
		for parent := (n - 2) / 2; ; parent-- {
			adjustHeap(a, parent, n, a[parent], less)
			if parent == 0 {
				break
			}
		}
	}
	for last := n - 1; last > 0; last-- {
		v := a[last]
		a[last] = a[0]
		adjustHeap(a, 0, last, v, less)
	}
}

func adjustHeap[T any](a []T, hole, n int, v T, less func(x, y T) bool) {
	top := hole
	child := hole
	for child < (n-1)/2 {
		child = 2 * (child + 1)
		if less(a[child], a[child-1]) {
			child--
		}
		a[hole] = a[child]
		hole = child
	}
	if n&1 == 0 && child == (n-2)/2 {
		child = 2 * (child + 1)
		a[hole] = a[child-1]
		hole = child - 1
	}
	parent := (hole - 1) / 2
	for hole > top && less(a[parent], v) {
		a[hole] = a[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	a[hole] = v
}
