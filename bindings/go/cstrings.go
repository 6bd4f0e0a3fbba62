// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// C copies of Go strings for options structs; each allocation is appended to
// *free for the caller to release after the library call.

// cString is a C copy of s, or NULL for "".
func cString(s string, free *[]unsafe.Pointer) *C.char {
	if s == "" {
		return nil
	}
	p := C.CString(s)
	*free = append(*free, unsafe.Pointer(p))
	return p
}

// cStrings is a C array of C copies of list (nil for an empty list).
func cStrings(list []string, free *[]unsafe.Pointer) **C.char {
	if len(list) == 0 {
		return nil
	}
	arr := (*[1 << 16]*C.char)(C.calloc(C.size_t(len(list)), C.size_t(unsafe.Sizeof(uintptr(0)))))
	*free = append(*free, unsafe.Pointer(arr))
	for i, s := range list {
		arr[i] = C.CString(s)
		*free = append(*free, unsafe.Pointer(arr[i]))
	}
	return &arr[0]
}
