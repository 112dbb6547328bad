#!/usr/bin/python3
"""Check shim/layers/kernels/kernels.db: its format, and that real-looking kernel names are classified right.

Usage: check_kernels_db.py [DB]     (default: shim/layers/kernels/kernels.db next to this checkout)

Format (the C loader reads exactly this):
  - lines starting with '#' and blank lines are ignored;
  - the first line is the header '# detshim kernel database v1';
  - every other line is PATTERN, one TAB, REASON: exactly one TAB, both sides non-empty,
    no leading/trailing blanks, no duplicate patterns.
A pattern is an fnmatch(3) glob (flags 0) matched against both the mangled and the demangled
name: a kernel is nondeterministic when any pattern matches either. Python's fnmatchcase has
the same semantics as fnmatch(3) with flags 0 for the patterns used here ('*', '?', '[...]';
Python knows no backslash escapes, so none may appear in a pattern).

Names below were produced by compiling declarations shaped like the ATen / deepmd-kit kernels
with nvcc 13 and listing them with cuobjdump (mangled) and c++filt (demangled), plus the
"(int)2, <unnamed>" style that Nsight and cudaFuncGetName-based tools print.
Prints 'N passed, M failed' last; exits 1 on any failure.
"""
import ctypes
import ctypes.util
import fnmatch
import os
import sys

HEADER = "# detshim kernel database v1"

# (name, expected_to_match, what) -- each name is tried alone, as the shim would see it.
POSITIVE = [
    # aten/src/ATen/native/cuda/Indexing.cu
    ("_ZN2at6native19indexFuncLargeIndexIdljLi2ELi2ELin2ELb1ENS0_39_GLOBAL__N__26b3f186_7_Indexing_cu_8d0f5a2d9ReduceAddEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_IKT0_S8_EEiiS8_S8_llT6_S7_",
     "index_add large (mangled)"),
    ("void at::native::indexFuncLargeIndex<double, long, unsigned int, 2, 2, -2, true, at::native::(anonymous namespace)::ReduceAdd>(at::cuda::detail::TensorInfo<double, unsigned int>, at::cuda::detail::TensorInfo<double const, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, unsigned int, long, long, at::native::(anonymous namespace)::ReduceAdd, double)",
     "index_add large (c++filt)"),
    ("void at::native::indexFuncLargeIndex<c10::BFloat16, long, unsigned int, (int)2, (int)2, (int)-2, (bool)1, at::native::<unnamed>::ReduceAdd>(at::cuda::detail::TensorInfo<T1, T3>, at::cuda::detail::TensorInfo<const T1, T3>, at::cuda::detail::TensorInfo<const T2, T3>, int, int, T3, T3, long, long, T8, T1)",
     "index_add large (Nsight style)"),
    ("_ZN2at6native19indexFuncSmallIndexIfljLi1ELi1ELin2ENS0_39_GLOBAL__N__26b3f186_7_Indexing_cu_8d0f5a2d9ReduceAddEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_IKT0_S8_EEiiS8_llT5_S7_",
     "index_add small (mangled)"),
    ("void at::native::indexFuncSmallIndex<float, long, unsigned int, 1, 1, -2, at::native::(anonymous namespace)::ReduceAdd>(at::cuda::detail::TensorInfo<float, unsigned int>, at::cuda::detail::TensorInfo<float const, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, long, long, at::native::(anonymous namespace)::ReduceAdd, float)",
     "index_add small (c++filt)"),
    ("void at::native::indexFuncLargeIndex<float, long, unsigned int, 2, 2, -2, false, at::native::(anonymous namespace)::ReduceMultiply>(at::cuda::detail::TensorInfo<float, unsigned int>, at::cuda::detail::TensorInfo<float const, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, unsigned int, long, long, at::native::(anonymous namespace)::ReduceMultiply, float)",
     "index_reduce prod (c++filt)"),
    # aten/src/ATen/native/cuda/ScatterGatherKernel.cu
    ("_ZN2at6native34_scatter_gather_elementwise_kernelILi128ELi4EZNS0_36_cuda_scatter_gather_internal_kernelILb1EfEclINS0_9ReduceAddEEEvRNS_14TensorIteratorElllRKT_EUliE_EEviT1_",
     "scatter_add (mangled)"),
    ("void at::native::_scatter_gather_elementwise_kernel<128, 4, at::native::_cuda_scatter_gather_internal_kernel<true, float>::operator()<at::native::ReduceAdd>(at::TensorIterator&, long, long, long, at::native::ReduceAdd const&)::{lambda(int)#1}>(int, at::native::_cuda_scatter_gather_internal_kernel<true, float>::operator()<at::native::ReduceAdd>(at::TensorIterator&, long, long, long, at::native::ReduceAdd const&)::{lambda(int)#1})",
     "scatter_add (c++filt)"),
    ("_ZN2at6native34_scatter_gather_elementwise_kernelILi128ELi4EZNS0_36_cuda_scatter_gather_internal_kernelILb1EdEclINS0_10ReduceMeanEEEvRNS_14TensorIteratorElllRKT_EUliE_EEviT1_",
     "scatter_reduce mean (mangled)"),
    ("void at::native::_scatter_gather_elementwise_kernel<128, 4, at::native::_cuda_scatter_gather_internal_kernel<true, double>::operator()<at::native::ReduceMultiply>(at::TensorIterator&, long, long, long, at::native::ReduceMultiply const&)::{lambda(int)#1}>(int, at::native::_cuda_scatter_gather_internal_kernel<true, double>::operator()<at::native::ReduceMultiply>(at::TensorIterator&, long, long, long, at::native::ReduceMultiply const&)::{lambda(int)#1})",
     "scatter_reduce prod (c++filt)"),
    # aten/src/ATen/native/cuda/IndexKernel.cu (put_ with accumulate)
    ("_ZN2at6native24index_elementwise_kernelILi128ELi4EZNS0_20cuda_take_put_kernelIfiZZZNS0_10put_kernelERNS_14TensorIteratorERKNS_10TensorBaseEbENKUlvE_clEvENKUlvE_clEvEUlRfiE_EEvS4_S7_RKT1_EUliE_EEvlSC_",
     "put_ accumulate (mangled)"),
    ("void at::native::index_elementwise_kernel<128, 4, at::native::cuda_take_put_kernel<float, int, at::native::put_kernel(at::TensorIterator&, at::TensorBase const&, bool)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1}>(at::TensorIterator&, at::TensorBase const&, at::native::put_kernel(at::TensorIterator&, at::TensorBase const&, bool)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1} const&)::{lambda(int)#1}>(long, at::native::cuda_take_put_kernel<float, int, at::native::put_kernel(at::TensorIterator&, at::TensorBase const&, bool)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1}>(at::TensorIterator&, at::TensorBase const&, at::native::put_kernel(at::TensorIterator&, at::TensorBase const&, bool)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1} const&)::{lambda(int)#1})",
     "put_ accumulate (c++filt)"),
    # EmbeddingBag.cu, UpSample*.cu, AdaptiveAveragePooling*.cu, GridSampler.cu, NLLLoss2d.cu, LossCTC.cu
    ("_ZN2at6native40EmbeddingBag_accGradParametersKernel_maxIflEEvPKT0_PKT_PS5_llS2_S2_", "embedding_bag max backward"),
    ("_ZN2at6native38upsample_bilinear2d_backward_out_frameIffEEvmmiiiiT0_S2_bPT_PKS3_", "upsample_bilinear2d backward"),
    ("void at::native::(anonymous namespace)::upsample_bilinear2d_backward_nhwc_out_frame<c10::Half, float>(unsigned long, int, int, int, int, float, float, bool, c10::Half*, c10::Half const*, unsigned long)",
     "upsample_bilinear2d backward nhwc"),
    ("_ZN2at6native37upsample_linear1d_out_frame_backwardIffEEviT0_bN2at27GenericPackedTensorAccessorIT_Lm3ENS_17DefaultPtrTraitsElEES7_", "upsample_linear1d backward"),
    ("void at::native::(anonymous namespace)::upsample_bicubic2d_backward_out_frame<double, double>(int, double, double, bool, at::GenericPackedTensorAccessor<double, 4ul, at::DefaultPtrTraits, long>, at::GenericPackedTensorAccessor<double, 4ul, at::DefaultPtrTraits, long>)",
     "upsample_bicubic2d backward"),
    ("void at::native::(anonymous namespace)::upsample_trilinear3d_backward_out_frame<float, float>(int, float, float, float, bool, at::GenericPackedTensorAccessor<float, 5ul, at::DefaultPtrTraits, long>, float*)",
     "upsample_trilinear3d backward"),
    ("_ZN2at6native39_GLOBAL__N__26b3f186_7_AdaptiveAveragePooling_cu_8d0f5a2d33atomic_adaptive_average_gradinputIfEEvPT_PKS3_iiii",
     "adaptive_avg_pool2d backward atomic"),
    ("void at::native::(anonymous namespace)::atomicadaptiveaveragegradinput<float>(float*, float const*, int, int, int, int, int, int, long)",
     "adaptive_avg_pool3d backward atomic"),
    ("void at::native::(anonymous namespace)::atomicadaptivemaxgradinput<float>(float*, float const*, long const*, int, int, int, int)",
     "adaptive_max_pool2d backward atomic"),
    ("_ZN2at6native31grid_sampler_2d_backward_kernelIfiEEvT0_PT_S4_S2_", "grid_sampler_2d backward"),
    ("void at::native::grid_sampler_3d_backward_kernel<double, long>(long, double*, double*, long)", "grid_sampler_3d backward"),
    ("_ZN2at6native25nll_loss2d_forward_kernelIffiEEvPT_S3_PKS2_PKlS5_iiil", "nll_loss2d forward (reduce)"),
    ("void at::native::ctc_loss_backward_collect_nonblank_gpu_kernel<float, long>(float*, float const*, long)", "ctc_loss backward nonblank"),
    # SummaryOps.cu: histc / bincount with float weights
    ("_ZN2at4cuda17kernelHistogram1DIffjLi1ELi2ELin1ELNS0_23CUDAHistogramMemoryTypeE0EZNS0_12histc_launchIfEEvvEUllE_EEvNS0_6detail10TensorInfoIT_T1_EES9_NS6_IKT0_S8_EElSA_SA_S8_T6_",
     "histc float (mangled)"),
    ("void at::cuda::kernelHistogram1D<double, float, unsigned int, 1, 2, -1, (at::cuda::CUDAHistogramMemoryType)0, at::native::(anonymous namespace)::_bincount_cuda_template<float, double>(at::Tensor const&, at::Tensor const&, long)::{lambda(long)#1}>(at::cuda::detail::TensorInfo<double, unsigned int>, at::cuda::detail::TensorInfo<double, unsigned int>, at::cuda::detail::TensorInfo<float const, unsigned int>, long, float, float, unsigned int, at::native::(anonymous namespace)::_bincount_cuda_template<float, double>(at::Tensor const&, at::Tensor const&, long)::{lambda(long)#1})",
     "bincount with double weights (c++filt)"),
    ("_ZN2at4cuda17kernelHistogram1DIN3c104HalfEfjLi1ELi2ELin1ELNS0_23CUDAHistogramMemoryTypeE0EZNS0_12histc_launchIS3_EEvvEUllE_EEvNS0_6detail10TensorInfoIT_T1_EESB_NS8_IKT0_SA_EElSC_SC_SA_T6_",
     "histc half (mangled)"),
    # real names from the torch 2.11.0+cu130 wheel (libtorch_cuda.so, sm_90)
    ("_ZN2at6native19indexFuncLargeIndexIdljLi2ELi2ELin2ELb1ENS0_44_GLOBAL__N__50c743a2_11_Indexing_cu_89862edb9ReduceAddEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_IKT0_S8_EEiiS8_S8_llRKT6_S7_",
     "torch 2.11: index_add large"),
    ("_ZN2at6native34_scatter_gather_elementwise_kernelILi128ELi8EZNS0_34_cuda_scatter_fill_internal_kernelIflEclINS0_14ReduceMultiplyEEEvRNS_14TensorIteratorEflllRKT_EUliE_EEviT1_",
     "torch 2.11: scatter_(value, reduce='multiply')"),
    ("_ZN2at6native24index_elementwise_kernelILi128ELi4EZNS0_20cuda_take_put_kernelIaiZZZZZNS0_10put_kernelERNS_14TensorIteratorERKNS_10TensorBaseEbENKUlvE_clEvENKUlvE0_clEvENKUlvE_clEvENKUlvE_clEvEUlRaiE0_EEvS4_S7_RKT1_EUliE_EEvlSE_",
     "torch 2.11: put_"),
    ("_ZN2at4cuda17kernelHistogram1DIddlLi1ELi2ELin1ELNS0_23CUDAHistogramMemoryTypeE0EZNS0_21CUDA_tensor_histogramIddLb0EEEbNS_6TensorES4_S4_lNS_14AccumulateTypeIT0_Lb1EE4typeES8_NS0_13TensorArgTypeES9_S9_EUllE0_EEvNS0_6detail10TensorInfoIT_T1_EESF_NSC_IKS6_SE_EElS8_S8_SE_T6_",
     "torch 2.11: histc double"),
    ("_ZN2at6native59_GLOBAL__N__4b0cc4ca_26_EmbeddingBackwardKernel_cu_5d1cf09b37compute_grad_weight_atomic_accumulateIddiEEvPKT1_PKT_S5_llS5_PKlS5_S5_S5_PT0_ll",
     "torch 2.11: embedding backward, fused atomic path"),
    # deepmd-kit source/lib/src/gpu/prod_force.cu, prod_virial.cu
    ("_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii", "deepmd force a (mangled)"),
    ("void force_deriv_wrt_neighbors_a<double>(double*, double const*, double const*, int const*, int, int, int)", "deepmd force a (c++filt)"),
    ("_Z27force_deriv_wrt_neighbors_rIfEvPT_PKS0_S3_PKiiii", "deepmd force r (mangled)"),
    ("void force_deriv_wrt_neighbors_r<float>(float*, float const*, float const*, int const*, int, int, int)", "deepmd force r (c++filt)"),
    ("_Z28virial_deriv_wrt_neighbors_aIdEvPT_S1_PKS0_S3_S3_PKiii", "deepmd virial a (mangled)"),
    ("void virial_deriv_wrt_neighbors_a<double>(double*, double*, double const*, double const*, double const*, int const*, int, int)", "deepmd virial a (c++filt)"),
    ("_Z28virial_deriv_wrt_neighbors_rIfEvPT_S1_PKS0_S3_S3_PKiii", "deepmd virial r (mangled)"),
    ("void virial_deriv_wrt_neighbors_r<float>(float*, float*, float const*, float const*, float const*, int const*, int, int)", "deepmd virial r (c++filt)"),
]

NEGATIVE = [
    ("_ZN2at6native24indexing_backward_kernelIfLi4EEEvPKlS3_PKT_PS4_llllb", "indexing_backward_kernel (sorted, deterministic)"),
    ("void at::native::(anonymous namespace)::indexing_backward_kernel<double, 4>(long const*, long const*, double const*, double*, long, long, long, long, bool)",
     "indexing_backward_kernel (c++filt)"),
    ("void at::native::(anonymous namespace)::indexing_backward_kernel_stride_1<float>(long const*, long const*, float const*, float*, long, long, long, long, bool)",
     "indexing_backward_kernel_stride_1"),
    ("_Z27force_deriv_wrt_center_atomIdEvPT_PKS0_S3_i", "deepmd center atom (mangled)"),
    ("void force_deriv_wrt_center_atom<double>(double*, double const*, double const*, int)", "deepmd center atom (c++filt)"),
    ("_Z21atom_virial_reductionIdLi256EEvPT_PKS0_i", "deepmd atom_virial_reduction"),
    ("_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEENS0_5ArrayIPcLi1EEEEEviT0_T1_", "fill (elementwise)"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul>)",
     "add (elementwise)"),
    ("void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}>(at::TensorIteratorBase&, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1} const&)::{lambda(int)#1}>(int, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}>(at::TensorIteratorBase&, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1} const&)::{lambda(int)#1})",
     "copy (elementwise)"),
    ("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4> >(at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4>)",
     "sum reduce_kernel"),
    ("void at::native::indexFuncLargeIndex<float, long, unsigned int, 2, 2, -2, true, at::native::(anonymous namespace)::ReduceMaximum>(at::cuda::detail::TensorInfo<float, unsigned int>, at::cuda::detail::TensorInfo<float const, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, unsigned int, long, long, at::native::(anonymous namespace)::ReduceMaximum, float)",
     "index_reduce amax (order-independent)"),
    ("_ZN2at6native34_scatter_gather_elementwise_kernelILi128ELi4EZNS0_36_cuda_scatter_gather_internal_kernelILb1EfEclINS0_12TensorAssignEEEvRNS_14TensorIteratorElllRKT_EUliE_EEviT1_",
     "scatter assign (no accumulation)"),
    ("_ZN2at6native24index_elementwise_kernelILi128ELi4EZNS0_20cuda_take_put_kernelIfiZZZNS0_11take_kernelERNS_14TensorIteratorERKNS_10TensorBaseEENKUlvE_clEvENKUlvE_clEvEUlRfiE_EEvS4_S7_RKT1_EUliE_EEvlSC_",
     "take (mangled)"),
    ("void at::native::index_elementwise_kernel<128, 4, at::native::cuda_take_put_kernel<float, int, at::native::take_kernel(at::TensorIterator&, at::TensorBase const&)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1}>(at::TensorIterator&, at::TensorBase const&, at::native::take_kernel(at::TensorIterator&, at::TensorBase const&)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1} const&)::{lambda(int)#1}>(long, at::native::cuda_take_put_kernel<float, int, at::native::take_kernel(at::TensorIterator&, at::TensorBase const&)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1}>(at::TensorIterator&, at::TensorBase const&, at::native::take_kernel(at::TensorIterator&, at::TensorBase const&)::{lambda()#1}::operator()() const::{lambda()#1}::operator()() const::{lambda(float&, int)#1} const&)::{lambda(int)#1})",
     "take (c++filt)"),
    ("void at::native::index_elementwise_kernel<128, 4, at::native::gpu_index_kernel<at::native::index_put_kernel_impl<at::native::OpaqueType<8> >(at::TensorIterator&, c10::ArrayRef<long>, c10::ArrayRef<long>)::{lambda(char*, char const*, long)#1}>(at::TensorIteratorBase&, c10::ArrayRef<long>, c10::ArrayRef<long>, at::native::index_put_kernel_impl<at::native::OpaqueType<8> >(at::TensorIterator&, c10::ArrayRef<long>, c10::ArrayRef<long>)::{lambda(char*, char const*, long)#1} const&, bool)::{lambda(int)#1}>(long, at::native::gpu_index_kernel<at::native::index_put_kernel_impl<at::native::OpaqueType<8> >(at::TensorIterator&, c10::ArrayRef<long>, c10::ArrayRef<long>)::{lambda(char*, char const*, long)#1}>(at::TensorIteratorBase&, c10::ArrayRef<long>, c10::ArrayRef<long>, at::native::index_put_kernel_impl<at::native::OpaqueType<8> >(at::TensorIterator&, c10::ArrayRef<long>, c10::ArrayRef<long>)::{lambda(char*, char const*, long)#1} const&, bool)::{lambda(int)#1})",
     "index_put_ (accumulate=False store)"),
    ("_ZN2at6native37upsample_nearest2d_backward_out_frameIffEEvPKT_PS2_mmmmmff", "upsample_nearest2d backward (gather)"),
    ("_ZN2at6native39_GLOBAL__N__26b3f186_7_AdaptiveAveragePooling_cu_8d0f5a2d26adaptive_average_gradinputIfEEvPT_PKS3_iiii",
     "adaptive_avg_pool2d backward, non-atomic"),
    ("void at::native::(anonymous namespace)::adaptivemaxgradinput<float>(float*, float const*, long const*, int, int, int, int)",
     "adaptive_max_pool2d backward, non-atomic"),
    ("_ZN2at6native26nll_loss2d_backward_kernelIfEEvPT_PKS2_PKlS5_S5_biiil", "nll_loss2d backward (stores only)"),
    ("_ZN2at6native36ctc_loss_backward_collect_gpu_kernelIflEEvPT_PKS2_l", "ctc_loss backward collect (log space, no atomics)"),
    ("_ZN2at4cuda17kernelHistogram1DIlfjLi1ELi2ELin1ELNS0_23CUDAHistogramMemoryTypeE0EZNS0_12histc_launchIlEEvvEUllE_EEvNS0_6detail10TensorInfoIT_T1_EES9_NS6_IKT0_S8_EElSA_SA_S8_T6_",
     "bincount without weights (int64 bins, mangled)"),
    ("void at::cuda::kernelHistogram1D<long, long, unsigned int, 1, 2, -1, (at::cuda::CUDAHistogramMemoryType)0, at::native::(anonymous namespace)::_bincount_cuda_template<long, long>(at::Tensor const&, at::Tensor const&, long)::{lambda(long)#1}>(at::cuda::detail::TensorInfo<long, unsigned int>, at::cuda::detail::TensorInfo<long, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, long, long, long, unsigned int, at::native::(anonymous namespace)::_bincount_cuda_template<long, long>(at::Tensor const&, at::Tensor const&, long)::{lambda(long)#1})",
     "bincount without weights (c++filt)"),
    ("void at::native::embedding_backward_feature_kernel<float, float, long>(long const*, float const*, float*, int, long, int)",
     "embedding backward feature kernel"),
    ("sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n_tilesize128x128x32_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
     "cuBLAS gemm"),
    # real names from the torch 2.11.0+cu130 wheel (libtorch_cuda.so, sm_90)
    ("_ZN2at6native19indexFuncLargeIndexIfljLi2ELi2ELin2ELb1ENS0_44_GLOBAL__N__50c743a2_11_Indexing_cu_89862edb13ReduceMaximumEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_IKT0_S8_EEiiS8_S8_llRKT6_S7_",
     "torch 2.11: index_reduce amax"),
    ("_ZN2at6native49_GLOBAL__N__7861cdb6_16_ReflectionPad_cu_f800513940reflection_pad2d_backward_det_out_kernelIdEEvPT_PKS3_lliiiiiii",
     "torch 2.11: reflection_pad2d backward, deterministic variant"),
    ("_ZN2at6native53_GLOBAL__N__21739cd4_20_layer_norm_kernel_cu_9c5ada8a35GammaBetaBackwardCUDAKernelTemplateIffLj32ELj16ELj128ELb0ELb0ELb0EEEvllPKT_S5_PKT0_S8_PS3_S9_",
     "torch 2.11: layer_norm gamma/beta backward"),
    ("_ZN2at6native59_GLOBAL__N__4b0cc4ca_26_EmbeddingBackwardKernel_cu_5d1cf09b19compute_grad_weightIdiEEvPKT0_PKT_S5_llS5_PKlPNS_14AccumulateTypeIS6_Lb1EE4typeEl",
     "torch 2.11: embedding backward, sorted segments"),
    ("_ZN2at6native59_GLOBAL__N__4b0cc4ca_26_EmbeddingBackwardKernel_cu_5d1cf09b15sum_and_scatterIdiEEvPKT0_PT_lS5_PKlPKNS_14AccumulateTypeIS6_Lb1EE4typeES5_S9_ll",
     "torch 2.11: embedding backward, sum_and_scatter"),
    ("_ZN2at6native53_GLOBAL__N__222ba01c_20_UpSampleNearest2d_cu_198c5ce242upsample_nearest2d_backward_nhwc_out_frameIddXadL_ZNS0_40nearest_neighbor_bw_compute_source_indexEfiiEEEEvPKT_PS3_mmmmmffm",
     "torch 2.11: upsample_nearest2d backward nhwc"),
]


def default_db():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shim", "layers", "kernels", "kernels.db"))


def parse(path, failures):
    """Return [(lineno, pattern, reason)]; append format problems to failures."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        failures.append("cannot read %s: %s" % (path, e.strerror))
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        failures.append("%s: not UTF-8 (%s)" % (path, e))
        return []
    if "\r" in text:
        failures.append("%s: has CR characters (use LF line ends)" % path)
    if text and not text.endswith("\n"):
        failures.append("%s: last line has no newline" % path)
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        failures.append("%s:1: first line must be exactly %r" % (path, HEADER))
    entries = []
    seen = {}
    for no, line in enumerate(lines, 1):
        if line.strip() == "" or line.startswith("#"):
            continue
        where = "%s:%d" % (path, no)
        ntab = line.count("\t")
        if ntab != 1:
            failures.append("%s: expected exactly one TAB between pattern and reason, found %d: %r"
                            % (where, ntab, line[:80]))
            continue
        pattern, reason = line.split("\t")
        if not pattern:
            failures.append("%s: empty pattern" % where)
        if not reason.strip():
            failures.append("%s: empty reason" % where)
        if pattern != pattern.strip() or reason != reason.strip():
            failures.append("%s: leading or trailing blanks around the pattern or reason" % where)
        if "\\" in pattern:
            failures.append("%s: backslash in pattern %r (fnmatch(3) and Python disagree on it)"
                            % (where, pattern))
        if pattern.count("[") != pattern.count("]"):
            failures.append("%s: unbalanced [ ] in pattern %r" % (where, pattern))
        if pattern.strip("*") == "":
            failures.append("%s: pattern %r matches every kernel" % (where, pattern))
        if pattern in seen:
            failures.append("%s: duplicate pattern %r (first on line %d)" % (where, pattern, seen[pattern]))
        else:
            seen[pattern] = no
        entries.append((no, pattern, reason))
    if not entries:
        failures.append("%s: no entries" % path)
    return entries


def libc_fnmatch():
    """fnmatch(3) from the C library, to cross-check Python's fnmatchcase; None if unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = libc.fnmatch
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    fn.restype = ctypes.c_int
    return lambda name, pattern: fn(pattern.encode(), name.encode(), 0) == 0


def main(argv):
    path = argv[1] if len(argv) > 1 else default_db()
    passed = 0
    failures = []

    fmt_failures = []
    entries = parse(path, fmt_failures)
    if fmt_failures:
        failures.extend(fmt_failures)
    else:
        passed += 1
        print("ok: format of %s (%d entries)" % (path, len(entries)))

    used = set()
    for name, what in POSITIVE:
        hits = [p for _, p, _ in entries if fnmatch.fnmatchcase(name, p)]
        used.update(hits)
        if hits:
            passed += 1
            print("ok: flagged   %-45s by %s" % (what, hits[0]))
        else:
            failures.append("NOT flagged, but must be: %s\n    %s" % (what, name))
    for name, what in NEGATIVE:
        hits = [p for _, p, _ in entries if fnmatch.fnmatchcase(name, p)]
        if hits:
            failures.append("flagged, but is deterministic: %s (by %s)\n    %s" % (what, ", ".join(hits), name))
        else:
            passed += 1
            print("ok: clean     %s" % what)

    cmatch = libc_fnmatch()
    if cmatch is not None:
        bad = [(p, n) for _, p, _ in entries for n, _ in POSITIVE + NEGATIVE
               if cmatch(n, p) != fnmatch.fnmatchcase(n, p)]
        if bad:
            for p, n in bad:
                failures.append("fnmatch(3) and Python disagree on pattern %r for %s" % (p, n[:80]))
        else:
            passed += 1
            print("ok: libc fnmatch(3, flags 0) agrees with fnmatchcase on every name and pattern")

    for msg in failures:
        print("FAIL: " + msg)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
